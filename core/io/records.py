"""Reading back the files the app writes: typed, validated records, safely opened.

The rule for every file the app reads back (review log, batch lock, corrections, model
versions, the active model, run folders, recipes): it is parsed into a typed record whose
``from_json`` checks types, ranges and paths through ``Fields``; a bad file or line raises
``RecordError``, one line naming the file and what is wrong, and the caller skips it or falls
back to the default, never trusting it. Paths read from such a file stay inside the folder
they belong to (``inside``). Files the app appends to or creates are opened without
following symbolic links (``open_nofollow``), and only regular files are read
(``read_json``/``check_regular``), so a FIFO or a device is refused before anything reads it.

Qt-free and torch-free.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import stat
from pathlib import Path
from typing import Any, Callable, Iterator

from core.errors import FileProblem, MaskingNetError, printable

MAX_RECORD_BYTES = 16 << 20  # a file the app wrote itself is far smaller; a larger one is not read
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_MISSING: Any = object()


class RecordError(FileProblem):
    """A file the app reads back is damaged or hostile: ``"<file>: <problem>"``, one line."""


def _describe(value: Any) -> str:
    shown = json.dumps(value, default=str) if not isinstance(value, (dict, list)) else type(value).__name__
    return printable(shown if len(shown) <= 40 else shown[:37] + "...")


def check_regular(path: str | Path) -> os.stat_result:
    """``os.stat`` of ``path`` (links followed), raising ``RecordError`` unless it is a regular
    file: a FIFO, device, socket or folder is refused before anything opens it.
    ``FileNotFoundError`` passes through."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise RecordError(path, f"is not a regular file ({_kind(info.st_mode)}); refusing to read it")
    return info


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "a special file"


def open_nofollow(path: str | Path, flags: int, mode: int = 0o666) -> int:
    """``os.open`` that refuses a symbolic link at ``path`` and anything but a regular file
    (non-blocking, so a FIFO cannot hang the open). Returns the descriptor; raises
    ``RecordError`` for a link or special file, ``OSError`` otherwise."""
    try:
        fd = os.open(path, flags | _NOFOLLOW | _NONBLOCK, mode)
    except OSError as error:
        if _NOFOLLOW and error.errno == errno.ELOOP:
            raise RecordError(path, "is a symbolic link; refusing to follow it") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise RecordError(path, f"is not a regular file ({_kind(info.st_mode)}); refusing to use it")
        if _NONBLOCK:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_bytes(path: str | Path, limit: int = MAX_RECORD_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (links to regular files are
    followed: the app's own files may live in a linked folder); ``RecordError`` otherwise."""
    info = check_regular(path)
    if info.st_size > limit:
        raise RecordError(path, f"is {info.st_size} bytes, more than the {limit} a file of the app can be")
    fd = os.open(path, os.O_RDONLY | _NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):  # swapped since the check
            raise RecordError(path, "is not a regular file; refusing to read it")
        return handle.read(limit + 1)[:limit]


def parse_json(path: str | Path, data: bytes | str) -> Any:
    """JSON ``data`` from ``path``; ``RecordError`` for anything that is not (deep nesting too)."""
    try:
        return json.loads(data)
    except RecursionError:
        raise RecordError(path, "not readable JSON (nested too deeply)") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise RecordError(path, f"not readable JSON ({printable(error)})") from None


def read_json(path: str | Path, limit: int = MAX_RECORD_BYTES) -> Any:
    """Parse the JSON file ``path`` (a regular file; see ``read_bytes``). ``FileNotFoundError``
    passes through; every other problem is a ``RecordError``."""
    try:
        data = read_bytes(path, limit)
    except (FileNotFoundError, RecordError):
        raise
    except OSError as error:
        raise RecordError(path, f"cannot read ({error.strerror or error})") from None
    return parse_json(path, data)


def inside(folder: str | Path, relative: str, source: str | Path) -> Path:
    """``folder / relative`` when it stays inside ``folder`` once resolved (links included);
    ``RecordError`` naming ``source`` (the file the path came from) otherwise."""
    folder = Path(folder)
    if not relative or "\0" in relative or Path(relative).is_absolute():
        raise RecordError(source, f"the path {_describe(relative)} is not relative to {printable(folder)}")
    base = Path(os.path.realpath(folder))
    target = Path(os.path.realpath(folder / relative))
    if target == base or base not in target.parents:
        raise RecordError(source, f"the path {_describe(relative)} leads outside {printable(folder)}")
    return folder / relative


@contextlib.contextmanager
def hold_lock(path: str | Path) -> Iterator[bool]:
    """Try to hold an exclusive lock on the file ``path`` (created, never through a link):
    yields True while held, False (nothing held) when another holder has it. The operating
    system drops the lock when its process dies. Where file locks are not available (Windows)
    it always yields True."""
    try:
        import fcntl
    except ImportError:
        yield True
        return
    fd = open_nofollow(path, os.O_RDWR | os.O_CREAT)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class Fields:
    """Typed access to one JSON object read from ``path``; every getter raises ``RecordError``
    naming the file, the field and what is wrong. ``where`` (e.g. ``"line 3"``) is added to
    the message. Getters with a ``default`` return it when the field is absent or null."""

    REQUIRED: Any = _MISSING  # the ``default`` of a field that must be there

    def __init__(self, data: Any, path: str | Path, where: str = "") -> None:
        self.path, self.where = Path(path), where
        if not isinstance(data, dict):
            raise self.error(f"expected a JSON object, found {type(data).__name__ if data is not None else 'null'}")
        self.data = data

    def error(self, problem: str) -> RecordError:
        return RecordError(self.path, f"{self.where}: {problem}" if self.where else problem)

    def _typed(self, key: str, default: Any, accept: Callable[[Any], bool], wanted: str) -> Any:
        """The field's value when ``accept`` takes it; ``default`` when absent or null (an error
        when there is none); ``RecordError`` saying what was ``wanted`` otherwise."""
        value = self.data.get(key)
        if value is None:
            if default is _MISSING:
                raise self.error(f"the field {key!r} is missing")
            return default
        if not accept(value):
            raise self.error(f"the field {key!r} should be {wanted}, found {_describe(value)}")
        return value

    def str(self, key: str, default: Any = _MISSING, *, choices: tuple[str, ...] | None = None,
            max_length: int = 4096) -> Any:
        wanted = "a text" if choices is None else "one of " + ", ".join(repr(choice) for choice in choices)
        return self._typed(key, default, lambda v: isinstance(v, str) and len(v) <= max_length and "\0" not in v
                           and (choices is None or v in choices), wanted)

    def bool(self, key: str, default: Any = _MISSING) -> Any:
        return self._typed(key, default, lambda v: isinstance(v, bool), "true or false")

    def int(self, key: str, default: Any = _MISSING, *, low: int | None = None, high: int | None = None) -> Any:
        return self._typed(key, default, lambda v: _is_number(v, int) and _within(v, low, high),
                           "a whole number" + _bounds(low, high))

    def float(self, key: str, default: Any = _MISSING, *, low: float | None = None, high: float | None = None) -> Any:
        value = self._typed(key, default, lambda v: _is_number(v, (int, float)) and math.isfinite(v)
                            and _within(v, low, high), "a finite number" + _bounds(low, high))
        return float(value) if value is not None else None

    def dict(self, key: str, default: Any = _MISSING) -> Any:
        return self._typed(key, default, lambda v: isinstance(v, dict), "a JSON object")

    def list(self, key: str, default: Any = _MISSING, *, of: type | tuple[type, ...] | None = None) -> Any:
        return self._typed(key, default, lambda v: isinstance(v, list) and (of is None or all(
            isinstance(item, of) and not (isinstance(item, bool) and of is not bool) for item in v)),
            "a list" if of is None else f"a list of {_type_names(of)}")


def _is_number(value: Any, kinds: type | tuple[type, ...]) -> bool:
    return isinstance(value, kinds) and not isinstance(value, bool)


def _within(value: float, low: float | None, high: float | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def _bounds(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f" between {low} and {high}"
    return f" of at least {low}" if low is not None else f" of at most {high}" if high is not None else ""


def _type_names(kinds: type | tuple[type, ...]) -> str:
    names = {str: "texts", int: "whole numbers", float: "numbers", dict: "JSON objects", bool: "true/false"}
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    return " or ".join(names.get(kind, kind.__name__) for kind in kinds)


def one_line(error: BaseException) -> str:
    """The message of a ``MaskingNetError`` (or any error) as one printable line."""
    text = str(error).strip() or type(error).__name__
    if not isinstance(error, (MaskingNetError, ValueError, OSError)):
        text = f"{type(error).__name__}: {text.splitlines()[0]}"
    return printable(text)
