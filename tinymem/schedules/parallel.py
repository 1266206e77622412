"""Evaluating a batch of candidates on every core: forked children share the
search's state as it is (no pickling of models on the way in) and send back
only what they computed.

A pure speed-up: every result is what the same call would return in this
process, in the same order, and anything a child cannot do (no fork on this
platform, one core, a child that fails) is done here instead.
"""

from __future__ import annotations

import gc
import os
import pickle
from typing import Callable, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Batches smaller than this run here: a fork costs a few milliseconds.
MIN_BATCH = 4
# How many processes a batch may use (default 1: this one).
WORKERS_ENV = "TINYMEM_WORKERS"
# The parent takes fewer items than a child: it also rebuilds, from their
# recipes, the models of the items the children measured.
_PARENT_WEIGHT, _CHILD_WEIGHT = 2, 3


def workers() -> int:
    """Processes a batch may use (this one included): TINYMEM_WORKERS, capped by the
    cores this process may run on; 1 when unset. Forking is not the default: on a
    shared 2-core machine the children's copy-on-write pages cost more CPU than
    they save (mcunet-320kb: 28.5 s CPU serial, 97.4 s with one child)."""
    if not hasattr(os, "fork"):
        return 1
    env = os.environ.get(WORKERS_ENV, "").strip()
    if not env.isdigit() or int(env) < 2:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(int(env), cores))


def fork_map(fn: Callable[[T, bool], R], items: Sequence[T]) -> list[R]:
    """[fn(x, False) for x in items], some of them computed as fn(x, True) in forked
    children (whose results must pickle)."""
    n_workers = min(workers(), 1 + len(items) // MIN_BATCH)
    if n_workers < 2:
        return [fn(x, False) for x in items]
    pattern = [0] * _PARENT_WEIGHT + [w for w in range(1, n_workers) for _ in range(_CHILD_WEIGHT)]
    owner = [pattern[i % len(pattern)] for i in range(len(items))]
    children: list[tuple[int, int, list[int]]] = []  # (pid, read end, item indices)
    gc.freeze()  # the children's collector then leaves the shared pages alone
    try:
        for w in range(1, n_workers):
            mine = [i for i, o in enumerate(owner) if o == w]
            child = _fork_child(fn, items, mine)
            if child is None:  # cannot fork: this process does the rest
                for i in mine:
                    owner[i] = 0
            else:
                children.append(child)
    finally:
        gc.unfreeze()
    results: list = [None] * len(items)
    done = [False] * len(items)
    try:
        for i, o in enumerate(owner):
            if o == 0:
                results[i], done[i] = fn(items[i], False), True
    finally:
        for pid, fd, idx in children:
            got = _collect(pid, fd)
            if got is not None and len(got) == len(idx):
                for i, r in zip(idx, got):
                    results[i], done[i] = r, True
    for i, ok in enumerate(done):
        if not ok:
            results[i] = fn(items[i], False)
    return results


def _fork_child(fn, items, idx: list[int]) -> tuple[int, int, list[int]] | None:
    try:
        r, w = os.pipe()
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:
        os.close(r)
        os.close(w)
        return None
    if pid == 0:  # the child: compute, send, and leave without running any exit hook
        code = 0
        try:
            os.close(r)
            try:
                data = pickle.dumps([fn(items[i], True) for i in idx],
                                    protocol=pickle.HIGHEST_PROTOCOL)
            except BaseException:  # the parent recomputes these items itself
                data = b""
                code = 1
            with os.fdopen(w, "wb") as f:
                f.write(data)
        finally:
            os._exit(code)
    os.close(w)
    return pid, r, idx


def _collect(pid: int, fd: int) -> list | None:
    """A child's results (None when it failed), once it has exited."""
    try:
        with os.fdopen(fd, "rb") as f:
            data = f.read()
    except OSError:
        data = b""
    _, status = os.waitpid(pid, 0)
    if not data or not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        return None
    try:
        return pickle.loads(data)
    except Exception:
        return None
