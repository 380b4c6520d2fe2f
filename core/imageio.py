"""Reading photos and masks safely, and writing images atomically.

Every reader turns a failure into ``ImageReadError`` whose message is one line naming the file.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from core.atomic import write_bytes_atomic
from core.errors import ImageReadError

# Refuse images above this many pixels before decoding them (a 12000x9000 photo is 108 MP).
MAX_PIXELS = 250_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
ImageFile.LOAD_TRUNCATED_IMAGES = False

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"})


@dataclass
class Photo:
    """A decoded photo in the orientation the user sees.

    ``rgb`` is (H, W, 3) uint8. Where the file had transparency, ``rgb`` is composited over
    white and ``alpha`` (H, W) uint8 keeps it: transparent input pixels stay transparent in
    every cut-out (the exported alpha is the mask times this alpha).
    """

    path: Path
    rgb: np.ndarray
    alpha: np.ndarray | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.rgb.shape[1], self.rgb.shape[0]


def _open_checked(path: Path) -> Image.Image:
    try:
        if path.is_dir():
            raise ImageReadError(path, "is a folder, not an image")
        if path.stat().st_size == 0:
            raise ImageReadError(path, "the file is empty")
        image = Image.open(path)
    except ImageReadError:
        raise
    except FileNotFoundError:
        raise ImageReadError(path, "no such file") from None
    except PermissionError:
        raise ImageReadError(path, "permission denied") from None
    except UnidentifiedImageError:
        raise ImageReadError(path, "not an image, or a format that is not supported") from None
    except Image.DecompressionBombError:
        raise ImageReadError(path, f"refused: more than {MAX_PIXELS // 1_000_000} megapixels") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageReadError(path, f"cannot read the image ({error})") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        image.close()
        raise ImageReadError(
            path, f"refused: {width}x{height} is more than {MAX_PIXELS // 1_000_000} megapixels"
        )
    if width < 1 or height < 1:
        image.close()
        raise ImageReadError(path, f"has an empty size {width}x{height}")
    return image


def _decode(path: Path, image: Image.Image) -> Image.Image:
    """Fully decode ``image`` with its EXIF orientation applied."""
    try:
        image.load()
        return ImageOps.exif_transpose(image)
    except Image.DecompressionBombError:
        raise ImageReadError(path, f"refused: more than {MAX_PIXELS // 1_000_000} megapixels") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageReadError(path, f"the image data is truncated or corrupt ({error})") from None
    except MemoryError:
        raise ImageReadError(path, "not enough memory to decode this image") from None


def _to_uint8(array: np.ndarray) -> np.ndarray:
    """Scale integer or float image data of any depth to uint8."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.floating):
        top = 1.0 if array.max(initial=0) <= 1.0 else 255.0
        return np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
    top = 65535 if array.max(initial=0) > 255 else 255
    return (array.astype(np.uint32) * 255 // top).astype(np.uint8)


def read_photo(path: str | Path) -> Photo:
    """Decode a photo of any common mode (grayscale, palette, 16-bit, CMYK, RGBA, ...)."""
    path = Path(path)
    with _open_checked(path) as opened:
        image = _decode(path, opened)
    mode = image.mode
    alpha = None
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        array = np.asarray(rgba)
        alpha = array[..., 3].copy()
        weight = alpha[..., None].astype(np.float32) / 255.0
        rgb = (array[..., :3] * weight + 255.0 * (1.0 - weight) + 0.5).astype(np.uint8)
        if alpha.min() == 255:
            alpha = None
    elif mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        gray = _to_uint8(np.asarray(image))
        rgb = np.repeat(gray[..., None], 3, axis=2)
    else:
        rgb = np.asarray(image.convert("RGB"))
    return Photo(path=path, rgb=np.ascontiguousarray(rgb), alpha=alpha)


def read_rgb(path: str | Path) -> np.ndarray:
    """The (H, W, 3) uint8 RGB content of a photo (see ``read_photo``)."""
    return read_photo(path).rgb


def read_mask(path: str | Path) -> np.ndarray:
    """A mask file as a (H, W) bool array, True = car.

    The rule: palette images are read by index, colour images by their brightest channel.
    Masks whose values are only 0 and 1 (Carvana's GIFs) take value > 0 as car; masks that
    use larger values (0/255, anti-aliased) take value > 127, so a soft edge splits at half.
    """
    path = Path(path)
    with _open_checked(path) as opened:
        image = _decode(path, opened)
    if image.mode == "P":
        values = np.asarray(image)
    elif image.mode in ("RGB", "RGBA", "CMYK", "YCbCr", "LAB", "HSV"):
        values = np.asarray(image.convert("RGB")).max(axis=2)
    elif image.mode in ("LA", "La"):
        values = np.asarray(image.convert("L"))
    else:
        values = _to_uint8(np.asarray(image)) if image.mode != "1" else np.asarray(image).astype(np.uint8)
    values = np.asarray(values)
    threshold = 0 if values.max(initial=0) <= 1 else 127
    return values > threshold


def encode_png(array: np.ndarray, *, compress_level: int = 3) -> bytes:
    """PNG bytes of a (H, W), (H, W, 3) or (H, W, 4) uint8 array."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def encode_image(array: np.ndarray, format: str, *, quality: int = 92) -> bytes:
    """Encode a uint8 array as PNG, JPEG or WEBP."""
    format = format.upper()
    if format == "PNG":
        return encode_png(array)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buffer, format=format, quality=quality)
    return buffer.getvalue()


def write_image(path: str | Path, array: np.ndarray, *, format: str | None = None, quality: int = 92) -> None:
    """Encode ``array`` and write it to ``path`` atomically (format from the suffix by default)."""
    path = Path(path)
    if format is None:
        format = {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}.get(path.suffix.lower(), "PNG")
    write_bytes_atomic(path, encode_image(array, format, quality=quality))


def iter_image_files(
    paths: Iterable[str | Path], *, recursive: bool = False
) -> Iterator[tuple[Path, Path]]:
    """Yield ``(file, root)`` for each input: files as given, folders scanned for images.

    ``root`` is the folder a file was found under (the file's own folder for a file given
    directly), so callers can mirror sub-folders. Symbolic-link loops are visited once.
    """
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            yield path, path.parent
            continue
        seen: set[str] = set()
        for folder, subfolders, files in os.walk(path, followlinks=True):
            real = os.path.realpath(folder)
            if real in seen:
                subfolders[:] = []
                continue
            seen.add(real)
            subfolders.sort()
            if not recursive:
                subfolders[:] = []
            for name in sorted(files):
                if Path(name).suffix.lower() in IMAGE_EXTENSIONS and not name.startswith("."):
                    yield Path(folder) / name, path
