"""Putting a serialised model on disk: never over the input, never half written."""

from __future__ import annotations

import os
import tempfile

from ..errors import TinymemError
from ..reader import parse_model


def check_destination(path: str, input_path: str | None) -> str:
    """The directory `path` is written in; refuses the input model itself and
    places that cannot hold a file."""
    if input_path and os.path.exists(path) and os.path.exists(input_path):
        if os.path.samefile(path, input_path):
            raise TinymemError(f"{path}: refusing to overwrite the input model; "
                               "write the rewritten model to another file")
    if os.path.isdir(path):
        raise TinymemError(f"{path}: is a directory")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise TinymemError(f"{path}: directory {directory} does not exist")
    return directory


def atomic_write(path: str, data: bytes, directory: str) -> None:
    """Write `data` to `path` through a temporary file in `directory`: synced,
    read back and parsed as a model, then renamed; a failure leaves no file behind."""
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.",
                                   suffix=".tmp")
    except OSError as e:
        raise TinymemError(f"{path}: cannot write ({e.strerror or e})") from None
    try:
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, _file_mode(path))
            with open(tmp, "rb") as f:
                back = f.read()
        except OSError as e:
            raise TinymemError(f"{path}: cannot write ({e.strerror or e})") from None
        if back != data:
            raise TinymemError(f"{path}: the written file differs from the model bytes")
        try:
            parse_model(back, path)
        except TinymemError as e:
            raise TinymemError(f"{path}: not written, the rewritten model does not read back: {e}") \
                from None
        try:
            os.replace(tmp, path)
        except OSError as e:
            raise TinymemError(f"{path}: cannot write ({e.strerror or e})") from None
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


def _file_mode(path: str) -> int:
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
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
