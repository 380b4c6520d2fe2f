"""Errors the core raises for bad input; each message is one line that names the file."""

from __future__ import annotations

from pathlib import Path


class MaskingNetError(Exception):
    """Base of the errors meant to be shown to a user as one line."""


class FileProblem(MaskingNetError):
    """A problem with one file: the message is ``"<path>: <problem>"``."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class ImageReadError(FileProblem):
    """An input image that cannot be read: missing, empty, corrupt, too large or unsupported."""


class CheckpointError(FileProblem):
    """A model file that cannot be used: not safetensors, wrong tensors, unknown configuration."""


class OutputWriteError(FileProblem):
    """An output that could not be written; nothing partial is left behind."""


class NotEnoughMemory(MaskingNetError):
    """The model ran out of memory even for one photo on the CPU (a GPU falls back to it first)."""
