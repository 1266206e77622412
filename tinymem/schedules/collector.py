"""The search without passes of Python's cyclic garbage collector.

A search builds thousands of candidate models of hundreds of ops each and
keeps them until it ends, while it allocates millions of short-lived
objects. Each young collection re-scans the objects made since the last one,
most of which the search keeps, and older collections scan them again: with
raised thresholds that was still 5.7 of 43 s on the PyTorch MobileNetV2
(113 young passes of 32 ms, 2 middle ones of 1 s). The search makes almost
no cyclic garbage (795 objects on that model: it breaks its own cycles when
it ends, see `_Evaluator.release`), so the collector is off while it runs
and back on after; what a failing search leaves is collected then.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def collector_off():
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
