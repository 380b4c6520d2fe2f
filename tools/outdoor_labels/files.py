"""Files for the label tools: atomic writes (a file is whole or absent, so an interrupted run resumes)
and photo reading."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps


def write_atomic(data: bytes, path: Path) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_png(array: np.ndarray, path: Path) -> None:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    write_atomic(buffer.getvalue(), path)


def read_rgb(path: Path) -> np.ndarray | None:
    """The photo as RGB uint8 (EXIF orientation applied), or None after printing why it is skipped."""
    try:
        with Image.open(path) as image:
            return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    except OSError as error:
        print(f"skip {path}: {error}", file=sys.stderr)
        return None
