"""Running a list of independent searches on two cores: this process takes
them from the front, one forked child from the back, until the two meet.

Neighbouring items share the most (a search reuses what the one before it
measured), so each end keeps its own cache warm. The child starts from this
process's state as it is (no pickling on the way in) and sends back only
what its items found.

A pure speed-up: every result is what running the item here would return,
and anything the child cannot do (no fork on this platform, one core, a
child that fails) is done here instead.
"""

from __future__ import annotations

import gc
import mmap
import os
import pickle
import struct
from multiprocessing import Lock
from typing import Callable, TypeVar

R = TypeVar("R")

# TINYMEM_WORKERS=1 keeps a search in one process (the default uses a second
# core when there is one); the child never forks again.
WORKERS_ENV = "TINYMEM_WORKERS"
_in_child = False


def workers() -> int:
    """Processes a search may use, this one included: 2 when this process may run
    on two cores or more and TINYMEM_WORKERS does not say 1; 1 otherwise."""
    if _in_child or not hasattr(os, "fork"):
        return 1
    env = os.environ.get(WORKERS_ENV, "").strip()
    if env.isdigit() and int(env) < 2:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return 2 if cores >= 2 else 1


class _Ends:
    """The items [front, back) not taken yet, shared by the two processes."""

    def __init__(self, count: int):
        self.lock = Lock()
        self.mem = mmap.mmap(-1, 8)
        struct.pack_into("ii", self.mem, 0, 0, count)

    def take(self, from_front: bool) -> int | None:
        with self.lock:
            front, back = struct.unpack_from("ii", self.mem)
            if front >= back:
                return None
            if from_front:
                struct.pack_into("i", self.mem, 0, front + 1)
                return front
            struct.pack_into("i", self.mem, 4, back - 1)
            return back - 1


def share_ends(count: int, run: Callable[[int], R], pack: Callable[[dict[int, R]], object],
               unpack: Callable[[object], dict[int, R]],
               in_child: Callable[[], None] = lambda: None) -> list[R]:
    """[run(i) for i in range(count)], the child's share computed there: it calls
    `in_child()` once, runs its items and sends `pack({i: result})` (which must
    pickle); `unpack` turns that into results of this process."""
    if count < 2 or workers() < 2:
        return [run(i) for i in range(count)]
    try:
        ends = _Ends(count)
    except (OSError, ImportError):  # (no shared semaphore here: one process does all)
        return [run(i) for i in range(count)]
    child = _fork_child(ends, run, pack, in_child)
    results: dict[int, R] = {}
    try:
        while (i := ends.take(True)) is not None:
            results[i] = run(i)
    finally:
        if child is not None:
            got = _collect(*child)
            if got is not None:
                results.update(unpack(got))
        else:  # (no child: nothing else takes from the back)
            while (i := ends.take(False)) is not None:
                results[i] = run(i)
    # Items the child took but did not send (it failed) are run here.
    return [results[i] if i in results else run(i) for i in range(count)]


def _fork_child(ends: _Ends, run, pack, in_child) -> tuple[int, int] | None:
    try:
        r, w = os.pipe()
    except OSError:
        return None
    gc.freeze()  # the child's collector then leaves the shared pages alone
    try:
        pid = os.fork()
    except OSError:
        gc.unfreeze()
        os.close(r)
        os.close(w)
        return None
    if pid == 0:  # the child: compute, send, and leave without running any exit hook
        code = 0
        try:
            global _in_child
            _in_child = True
            os.close(r)
            try:
                in_child()
                done: dict[int, object] = {}
                while (i := ends.take(False)) is not None:
                    done[i] = run(i)
                data = pickle.dumps(pack(done), protocol=pickle.HIGHEST_PROTOCOL)
            except BaseException:  # the parent runs these items itself
                data = b""
                code = 1
            with os.fdopen(w, "wb") as f:
                f.write(data)
        finally:
            os._exit(code)
    gc.unfreeze()
    os.close(w)
    return pid, r


def _collect(pid: int, fd: int) -> object | None:
    """What a child sent (None when it failed), once it has exited."""
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
