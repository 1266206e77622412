"""Measure a model's arena on the real runtimes: head, tail and the smallest arena that works.

`wheel_arena(path)` asks the tflite-micro wheel (x86-64) in one child process;
`firmware_arena(path, target)` the Cortex-M firmware in QEMU. Both return
(head, tail, smallest arena), the smallest arena found by bisection as
../shared/targets/min_arena.sh does (`tail.smallest_working`), starting from a guess (tinymem's
prediction): when the guess works and one byte less fails, two runs suffice.
"""

from __future__ import annotations

import subprocess
import sys

from tinymem.memory.tail import smallest_working
from tinymem.verify import firmware

_WHEEL = r"""
import os, sys, re
from tflite_micro import runtime
path, guess = sys.argv[1], int(sys.argv[2])
data = open(path, "rb").read()
def ok(n):
    # In a forked child: some kernels abort the process when a step fails.
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.devnull, os.O_WRONLY); os.dup2(fd, 1); os.dup2(fd, 2)
        try:
            runtime.Interpreter.from_bytes(data, arena_size=n)
            os._exit(0)
        except BaseException:
            os._exit(1)
    return os.waitpid(pid, 0)[1] == 0
# The figures at a large arena: print_allocations writes to fd 2.
r, w = os.pipe()
saved = os.dup(2); os.dup2(w, 2)
it = runtime.Interpreter.from_bytes(data, arena_size=64 << 20)
it.print_allocations()
os.dup2(saved, 2); os.close(w)
text = os.read(r, 1 << 20).decode()
def fig(what):
    m = re.search(r"Arena allocation " + what + r" (\d+) bytes", text)
    return int(m.group(1))
head, tail = fig("head"), fig("tail")
if guess > 0 and ok(guess) and not ok(guess - 1):
    n = guess
else:
    from tinymem.memory.tail import smallest_working
    n = smallest_working(ok, head + tail)
print("measured", head, tail, n)
"""


def wheel_arena(path, guess: int = 0, timeout: float = 120) -> tuple[int, int, int]:
    """(head, tail, smallest arena) on the tflite-micro wheel; RuntimeError if it cannot set up."""
    proc = subprocess.run([sys.executable, "-c", _WHEEL, str(path), str(guess)],
                          capture_output=True, text=True, timeout=timeout)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("measured ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError((proc.stderr.strip().splitlines() or ["the wheel failed"])[-1])
    head, tail, smallest = map(int, line.split()[1:])
    return head, tail, smallest


def firmware_arena(path, target, guess: int = 0) -> tuple[int, int, int]:
    """(head, tail, smallest arena) on the target's firmware; RuntimeError if it cannot set up."""
    big = firmware.run_firmware(path, target)
    if not big.ok:
        raise RuntimeError(big.raw.get("allocate") if not big.allocate_ok else big.raw.get("invoke"))

    def ok(n: int) -> bool:
        return firmware.run_firmware(path, target, arena=n).ok

    if guess > 0 and ok(guess) and not ok(guess - 1):
        return big.head, big.tail, guess
    return big.head, big.tail, smallest_working(ok, big.head + big.tail)
