"""Errors the core raises for bad input; each message is one line that names the file."""

from __future__ import annotations

import re
from pathlib import Path

# C0 and C1 control characters (newline, the ESC of ANSI colour codes, ...) and DEL.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: object) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\x1b``), for one-line messages:
    a file name can neither split a message nor colour a terminal."""
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), str(text))


class MaskingNetError(Exception):
    """Base of the errors meant to be shown to a user as one line."""


class FileProblem(MaskingNetError):
    """A problem with one file: the message is ``"<path>: <problem>"``."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{printable(path)}: {problem}")


class ImageReadError(FileProblem):
    """An input image that cannot be read: missing, empty, corrupt, too large or unsupported."""


class CheckpointError(FileProblem):
    """A model file that cannot be used: not safetensors, wrong tensors, unknown configuration."""


class OutputWriteError(FileProblem):
    """An output that could not be written; nothing partial is left behind."""


class NotEnoughMemory(MaskingNetError):
    """The model ran out of memory even for one photo on the CPU (a GPU falls back to it first)."""
