"""Writing outputs safely: never half a file, never over an input or a device.

Every file tinymem writes (-o, --plot and its companion, --html) goes through
`atomic_write`, and the CLI runs `check_outputs` on them before any search,
so an output that cannot be written fails in a second, not after minutes.

The rules, one per kind of path:

- a regular file (new or existing) is replaced atomically: the bytes go to
  a temporary file in the same directory, are synced, and are renamed over
  the path, so a reader sees the old file or the whole new one. An existing
  file is overwritten (as `cp` and `cc -o` do); its permission bits are kept.
- an input (same inode: the path itself, `./x`, a hard link or a symlink to
  it) is never written.
- a character device or a FIFO (/dev/null, /dev/stdout, a named pipe) is
  written through: opened and written like a shell redirect, never unlinked
  or replaced. A FIFO no process reads is refused rather than waited for.
- a symbolic link is followed: its target is replaced, the link stays. A
  link to nothing is refused (writing through a dangling link is how /tmp
  attacks work). /dev/stdout, /dev/stderr and /dev/fd/N are streams the
  caller opened: written through (appended to a regular file), never renamed.
- a directory, a block device or a socket is refused.

Temporary files: where the kernel offers O_TMPFILE (Linux on ext4, xfs,
btrfs, tmpfs) the bytes are written to a file with no name, which is linked
under a temporary name only for the instant before the rename, so even
SIGKILL leaves nothing behind. Elsewhere the temporary file is named
`.tinymem-<random>.tmp`; SIGINT, SIGTERM and SIGHUP during the write remove
it (handlers installed for the duration, the previous ones restored and the
signal then re-delivered), and only SIGKILL or a power cut can leave one,
recognisable by that name and safe to delete.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import signal
import stat
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import BinaryIO, Callable, Iterable, Iterator, Union

from .errors import TinymemError

TEMP_PREFIX = ".tinymem-"
TEMP_SUFFIX = ".tmp"

Writer = Callable[[BinaryIO], None]
Data = Union[bytes, bytearray, memoryview, Writer]

# Whether to try O_TMPFILE (an unnamed file linked in through /proc at the end).
USE_O_TMPFILE = hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd")

_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))


_FD_LINK = re.compile(r"^/(dev/(stdout|stderr|fd/\d+)|proc/(self|\d+)/fd/\d+)$")


class OutputKind(Enum):
    NEW = "new"            # a regular file to create
    REPLACE = "replace"    # an existing regular file, replaced atomically
    THROUGH = "through"    # a device, FIFO or /dev/std* stream, written through in place


@dataclass(frozen=True)
class OutputTarget:
    path: str        # as the user gave it
    real: str        # where the bytes go (symlinks followed)
    kind: OutputKind


def _refuse(path: str, why: str) -> TinymemError:
    return TinymemError(f"cannot write {path}: {why}")


def check_output(path: str | os.PathLike, inputs: Iterable[str | os.PathLike | None] = ()) \
        -> OutputTarget:
    """Where `path` would be written, or TinymemError saying why it cannot be.

    Cheap and side-effect free: run it before any long work, and again (as
    `atomic_write` does) when writing.
    """
    given = os.fspath(path)
    if not given:
        raise TinymemError("cannot write an empty path")
    real = os.path.abspath(given)
    try:
        link = stat.S_ISLNK(os.lstat(given).st_mode)
    except FileNotFoundError:
        return OutputTarget(given, real, _check_new(given, real))
    except NotADirectoryError:
        raise _refuse(given, "a part of the path is not a directory") from None
    except OSError as e:
        raise _refuse(given, e.strerror or str(e)) from None
    try:
        st = os.stat(given)  # follows links, /proc's too (/dev/stdout -> pipe:[...])
    except FileNotFoundError:
        raise _refuse(given, "it is a symbolic link to nothing; refusing to follow it") from None
    except OSError as e:
        raise _refuse(given, e.strerror or str(e)) from None
    # /dev/stdout, /dev/fd/3: a stream the caller opened (a pipe, a log file
    # from `2>log`); written through, appended, never renamed over.
    stream = link and bool(_FD_LINK.match(real))
    if link and stat.S_ISREG(st.st_mode) and not stream:
        real = os.path.realpath(given)  # replace the target; the link stays
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise _refuse(given, "it is a directory")
    if stat.S_ISBLK(mode) or stat.S_ISSOCK(mode):
        kind = "a block device" if stat.S_ISBLK(mode) else "a socket"
        raise _refuse(given, f"it is {kind}; refusing to write to it")
    for other in inputs:
        if other and _same_file(st, other):
            raise _refuse(given, f"it is the input {os.fspath(other)}; refusing to overwrite "
                          "the input, write to another file")
    if not os.access(real, os.W_OK):
        raise _refuse(given, "permission denied")
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode) or stream:
        return OutputTarget(given, given, OutputKind.THROUGH)  # opened by its own name
    _check_new(given, real)  # replacing needs a writable directory too
    return OutputTarget(given, real, OutputKind.REPLACE)


def _check_new(given: str, real: str) -> OutputKind:
    directory = os.path.dirname(real)
    if not os.path.isdir(directory):
        if os.path.lexists(directory):
            raise _refuse(given, f"{directory} is not a directory")
        raise _refuse(given, f"directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise _refuse(given, f"permission denied in directory {directory}")
    return OutputKind.NEW


def _same_file(st: os.stat_result, other: str | os.PathLike) -> bool:
    try:
        o = os.stat(other)
    except OSError:
        return False
    return (o.st_dev, o.st_ino) == (st.st_dev, st.st_ino)


def check_outputs(paths: Iterable[tuple[str, str | os.PathLike | None]],
                  inputs: Iterable[str | os.PathLike | None] = ()) -> list[OutputTarget]:
    """`check_output` for each (option, path) given, and no two naming one file.

    Two outputs on one regular file would silently keep only the last;
    devices and FIFOs (`--html /dev/null -o /dev/null`) may be shared.
    """
    inputs = [i for i in inputs if i]
    seen: dict[str, str] = {}
    targets = []
    for option, path in paths:
        if path is None:
            continue
        t = check_output(path, inputs)
        if t.kind is not OutputKind.THROUGH:
            if t.real in seen:
                raise TinymemError(f"{option} and {seen[t.real]} name the same file "
                                   f"{os.fspath(path)}: give each output its own file")
            seen[t.real] = option
        targets.append(t)
    return targets


def atomic_write(path: str | os.PathLike, data: Data, *,
                 inputs: Iterable[str | os.PathLike | None] = (),
                 check: Callable[[bytes], None] | None = None) -> int:
    """Write `data` (bytes, or a function that writes to a binary file) to `path`.

    Returns the number of bytes written. `check`, if given, sees the bytes as
    stored (read back from the temporary file) and may raise to keep the old
    file; for a device or FIFO it sees them before they are written. Raises
    TinymemError for every refusal and OSError, leaving no temporary file.
    """
    target = check_output(path, inputs)
    try:
        if target.kind is OutputKind.THROUGH:
            return _write_through(target, data, check)
        return _replace(target, data, check)
    except OSError as e:
        raise _refuse(target.path, e.strerror or str(e)) from None


def _as_bytes(data: Data) -> bytes:
    if callable(data):
        import io

        buf = io.BytesIO()
        data(buf)
        return buf.getvalue()
    return bytes(data)


def _write_through(target: OutputTarget, data: Data, check) -> int:
    payload = _as_bytes(data)
    if check is not None:
        check(payload)
    flags = os.O_WRONLY | getattr(os, "O_NOCTTY", 0)
    st = os.stat(target.real)
    fifo = stat.S_ISFIFO(st.st_mode)
    if stat.S_ISREG(st.st_mode):  # /dev/stderr redirected to a file: add to it
        flags |= os.O_APPEND
    try:
        # A FIFO with no reader would block forever; O_NONBLOCK says so at once.
        fd = os.open(target.real, flags | (os.O_NONBLOCK if fifo else 0))
    except OSError as e:
        if e.errno == errno.ENXIO:
            raise _refuse(target.path, "it is a FIFO no process is reading") from None
        raise
    try:
        if fifo:
            os.set_blocking(fd, True)
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    return len(payload)


def _replace(target: OutputTarget, data: Data, check) -> int:
    directory = os.path.dirname(target.real)
    mode = _mode_for(target)
    fd: int | None = None
    named: str | None = None  # a temporary name on disk, to remove on failure
    with _cleanup_on_signals():
        try:
            with _signals_blocked():
                fd, named = _open_temp(directory, mode)
            with os.fdopen(fd, "wb", closefd=False) as f:
                if callable(data):
                    data(f)
                else:
                    f.write(data)
                f.flush()
                size = f.tell()
            os.fsync(fd)
            os.fchmod(fd, mode)
            if check is not None:
                os.lseek(fd, 0, os.SEEK_SET)
                with os.fdopen(fd, "rb", closefd=False) as f:
                    check(f.read())
            with _signals_blocked():
                if named is None:  # unnamed (O_TMPFILE): give it a name for the rename
                    named = _link_unnamed(fd, directory)
                os.replace(named, target.real)
                named = None
        except BaseException:
            with _signals_blocked():
                if named is not None:
                    try:
                        os.unlink(named)
                    except OSError:
                        pass
                if fd is not None:
                    os.close(fd)
                    fd = None
            raise
        finally:
            if fd is not None:
                os.close(fd)
    _fsync_dir(directory)
    return size


def _open_temp(directory: str, mode: int) -> tuple[int, str | None]:
    """(fd, temporary name or None for an unnamed O_TMPFILE file)."""
    if USE_O_TMPFILE:
        try:
            return os.open(directory, os.O_TMPFILE | os.O_RDWR, mode & 0o777), None
        except OSError as e:
            # Not every file system has O_TMPFILE (EOPNOTSUPP); old kernels say EISDIR.
            if e.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
                raise
    return tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=directory)


def _link_unnamed(fd: int, directory: str) -> str:
    """A temporary name for an O_TMPFILE file, linked in at the last moment.

    linkat(AT_SYMLINK_FOLLOW) through /proc/self/fd; a plain link() would try
    to link the /proc symlink itself (EXDEV), hence the directory fd. Where
    /proc refuses, the bytes are copied to a named temporary file instead.
    """
    dfd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        while True:
            name = f"{TEMP_PREFIX}{secrets.token_hex(8)}{TEMP_SUFFIX}"
            try:
                os.link(f"/proc/self/fd/{fd}", name, dst_dir_fd=dfd, follow_symlinks=True)
                return os.path.join(directory, name)
            except FileExistsError:
                continue
            except OSError:
                return _copy_to_named(fd, directory)
    finally:
        os.close(dfd)


def _copy_to_named(fd: int, directory: str) -> str:
    out, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=directory)
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        while chunk := os.read(fd, 1 << 20):
            view = memoryview(chunk)
            while view:
                view = view[os.write(out, view):]
        os.fchmod(out, os.fstat(fd).st_mode & 0o7777)
        os.fsync(out)
    except BaseException:
        os.unlink(name)
        raise
    finally:
        os.close(out)
    return name


def _mode_for(target: OutputTarget) -> int:
    if target.kind is OutputKind.REPLACE:
        try:
            return os.stat(target.real).st_mode & 0o7777
        except OSError:
            pass
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- signals


class _Interrupted(BaseException):
    """A signal arrived during a write; re-delivered once the temporary file is gone."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def _signals_blocked() -> Iterator[None]:
    """Defer SIGINT/SIGTERM/SIGHUP over a step that must not be cut in two."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextmanager
def _cleanup_on_signals() -> Iterator[None]:
    """Turn the signals into an exception for the duration (so clean-up runs),
    then restore the previous handlers and deliver the signal to them."""
    if not _in_main_thread():
        yield
        return
    previous = {}
    for sig in _SIGNALS:
        old = signal.getsignal(sig)
        if old in (signal.SIG_IGN, None):
            continue  # an ignored signal stays ignored

        def handler(signum, frame):
            raise _Interrupted(signum)

        previous[sig] = old
        signal.signal(sig, handler)
    caught = None
    try:
        yield
    except _Interrupted as e:
        caught = e.signum
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    if caught is not None:
        signal.raise_signal(caught)  # the default SIGINT handler raises KeyboardInterrupt here
        raise TinymemError(f"interrupted by signal {caught}; nothing written")


# --------------------------------------------------------------------------- inputs


def check_input(path: str | os.PathLike) -> os.stat_result:
    """The stat of an input file, or TinymemError unless it is a regular file.

    A FIFO or a device given as a model would block or never end (/dev/zero);
    a regular file has a size to check before anything reads it.
    """
    given = os.fspath(path)
    try:
        st = os.stat(given)
    except FileNotFoundError:
        raise TinymemError(f"{given}: no such file") from None
    except OSError as e:
        raise TinymemError(f"{given}: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise TinymemError(f"{given}: is a directory, not a model file")
    if not stat.S_ISREG(st.st_mode):
        raise TinymemError(f"{given}: not a regular file (a FIFO or device); refusing to read it")
    return st
