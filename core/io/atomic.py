"""Atomic file writes: a file is either complete at its final name or not there at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from core.errors import OutputWriteError

NAME_MAX = 255  # bytes in one file name on the common file systems (ext4, APFS, NTFS, ...)
_TEMP_EXTRA = len(".") + len(".XXXXXXXX") + len(".part")  # what a temporary name adds to the stem


def temp_stem(name: str) -> str:
    """The part of ``name`` that the temporary file beside it carries (``.<stem>.XXXXXXXX.part``):
    the whole name, cut to keep the temporary name within ``NAME_MAX`` bytes, so any name that
    can exist can also be written atomically."""
    encoded = os.fsencode(name)
    room = NAME_MAX - _TEMP_EXTRA
    return name if len(encoded) <= room else os.fsdecode(encoded[:room])


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is fsynced and renamed onto it.

    On any exception the temporary file is removed and the old ``path`` (if any) is untouched.
    """
    path = Path(path)
    directory = path.parent
    try:
        fd, temp_name = tempfile.mkstemp(prefix=f".{temp_stem(path.name)}.", suffix=".part", dir=directory)
    except FileNotFoundError:
        raise OutputWriteError(path, "the output folder does not exist") from None
    except PermissionError:
        raise OutputWriteError(path, "the output folder is not writable") from None
    except OSError as error:
        raise OutputWriteError(path, f"cannot write: {error.strerror or error}") from None
    os.close(fd)
    temp_path = Path(temp_name)
    try:
        yield temp_path
        os.chmod(temp_path, 0o666 & ~current_umask())  # mkstemp's 0600 (or a writer's own) -> usual
        with open(temp_path, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temp_path, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            temp_path.unlink()
        if isinstance(error, OSError) and not isinstance(error, FileNotFoundError):
            raise OutputWriteError(path, f"cannot write: {error.strerror or error}") from None
        raise
    _fsync_directory(directory)


def ensure_writable_folder(folder: str | Path) -> Path:
    """Create ``folder`` (with its parents) and check that files can be written in it, by
    creating and removing a probe file; raises ``OutputWriteError`` with a one-line reason."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputWriteError(folder, "exists and is not a folder") from None
    except OSError as error:
        raise OutputWriteError(folder, f"cannot create the output folder ({error.strerror or error})") from None
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-test.", suffix=".part", dir=folder)
    except PermissionError:
        raise OutputWriteError(folder, "the output folder is not writable") from None
    except OSError as error:
        raise OutputWriteError(folder, f"cannot write in the output folder ({error.strerror or error})") from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return folder


def write_atomic(path: str | Path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(handle)`` on a temporary file and move it onto ``path`` when it succeeds."""
    with atomic_path(path) as temp_path, open(temp_path, "wb") as handle:
        write(handle)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    write_atomic(path, lambda handle: handle.write(data))


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_directory(directory: Path) -> None:
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
