"""Reading photos and masks safely, and writing images atomically.

Every reader turns a failure into ``ImageReadError`` whose message is one line naming the file.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from core.errors import ImageReadError
from core.io.atomic import write_bytes_atomic
from core.io.records import RecordError, check_regular

# Refuse images above this many pixels before decoding them (a 12000x9000 photo is 108 MP).
MAX_PIXELS = 250_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# Pillow warns between 1x and 2x its limit; _open_checked refuses those images with one line instead.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
ImageFile.LOAD_TRUNCATED_IMAGES = False

# A mask's grey pixels are its soft edge (a few percent); a photo given as a mask has mostly grey ones.
MAX_MIDDLE_SHARE = 0.25
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"})


@dataclass
class Photo:
    """A decoded photo in the orientation the user sees.

    ``rgb`` is (H, W, 3) uint8. Where the file had transparency, ``rgb`` is composited over
    white and ``alpha`` (H, W) uint8 keeps it: transparent input pixels stay transparent in
    every cut-out (the exported alpha is the mask times this alpha).

    ``icc_profile`` is the file's embedded RGB colour profile (Display P3, Adobe RGB, ...), or
    None for plain sRGB. The pixels are kept as they are and every cut-out carries the same
    profile, so its colours look as they do in the photo.
    """

    path: Path
    rgb: np.ndarray
    alpha: np.ndarray | None = None
    icc_profile: bytes | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.rgb.shape[1], self.rgb.shape[0]


def _open_checked(path: Path) -> Image.Image:
    """Open ``path`` lazily, refusing empty files, non-images and oversized images before decoding."""
    try:
        if path.is_dir():
            raise ImageReadError(path, "is a folder, not an image")
        try:  # a FIFO or a device (a link to /dev/zero) is refused before anything reads it
            size = check_regular(path).st_size
        except RecordError as error:
            raise ImageReadError(path, error.problem) from None
        if size == 0:
            raise ImageReadError(path, "the file is empty")
        image = Image.open(path)
    except ImageReadError:
        raise
    except FileNotFoundError:
        raise ImageReadError(path, "no such file") from None
    except PermissionError:
        raise ImageReadError(path, "permission denied") from None
    except UnidentifiedImageError:
        if _starts_with(path, _PNG_SIGNATURE):
            _check_png_checksums(path)  # says which chunk is damaged, where one is
        raise ImageReadError(path, "not an image, or a format that is not supported") from None
    except Image.DecompressionBombError:
        raise ImageReadError(path, f"refused: more than {MAX_PIXELS // 1_000_000} megapixels") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
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
    if image.format == "PNG":
        try:
            _check_png_checksums(path)
        except ImageReadError:
            image.close()
            raise
    return image


def _check_png_checksums(path: Path) -> None:
    """Verify the CRC of every PNG chunk (Pillow skips those of the pixel data, so a flipped
    bit can otherwise decode into silently wrong pixels)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(8)
            while True:
                head = handle.read(8)
                if len(head) < 8:
                    raise ImageReadError(path, "damaged PNG: the file ends before its IEND chunk")
                length, kind = struct.unpack(">I4s", head)
                crc = zlib.crc32(kind)
                left = length
                while left:
                    block = handle.read(min(left, 1 << 20))
                    if not block:
                        raise ImageReadError(path, f"damaged PNG: the file ends inside chunk {_chunk_name(kind)}")
                    crc = zlib.crc32(block, crc)
                    left -= len(block)
                stored = handle.read(4)
                if len(stored) < 4:
                    raise ImageReadError(path, f"damaged PNG: the file ends inside chunk {_chunk_name(kind)}")
                if struct.unpack(">I", stored)[0] != crc:
                    raise ImageReadError(path, f"damaged PNG: checksum error in chunk {_chunk_name(kind)}")
                if kind == b"IEND":
                    return
    except OSError as error:
        raise ImageReadError(path, f"cannot read the image ({error.strerror or error})") from None


def _starts_with(path: Path, signature: bytes) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(len(signature)) == signature
    except OSError:
        return False


def _chunk_name(kind: bytes) -> str:
    return kind.decode("latin-1") if kind.isalpha() else repr(kind)


def _decode(path: Path, image: Image.Image) -> Image.Image:
    """Fully decode ``image`` and apply its EXIF orientation in place (no copy)."""
    try:
        image.load()
        ImageOps.exif_transpose(image, in_place=True)
        return image
    except Image.DecompressionBombError:
        raise ImageReadError(path, f"refused: more than {MAX_PIXELS // 1_000_000} megapixels") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as error:
        raise ImageReadError(path, f"the image data is truncated or corrupt ({error})") from None
    except MemoryError:
        raise ImageReadError(path, "not enough memory to decode this image") from None


def _to_uint8(array: np.ndarray, top: int | None = None) -> np.ndarray:
    """Scale integer or float image data of any depth to uint8.

    ``top`` is the value that maps to 255; by default 1.0 for floats up to 1, 65535 for integers
    above 255, else 255.
    """
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.floating):
        top = top or (1.0 if np.nanmax(array, initial=0) <= 1.0 else 255.0)
        return np.clip(np.nan_to_num(array) / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
    top = top or (65535 if array.max(initial=0) > 255 else 255)
    return (np.clip(array, 0, top).astype(np.uint64) * 255 // top).astype(np.uint8)


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TRANSPARENT_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_HIGH_DEPTH_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_STRIP_BYTES = 16 << 20


def read_photo(path: str | Path) -> Photo:
    """Decode a photo of any common mode (grayscale, palette, 16-bit, CMYK, RGBA, ...).

    The photo is returned in the orientation the user sees (EXIF orientation applied). It is
    converted in strips of rows, so a 100-megapixel photo needs about its decoded size twice
    (Pillow's copy and the array), not one extra full-size copy per conversion step.
    """
    path = Path(path)
    with _open_checked(path) as opened:
        image = _decode(path, opened)
        try:
            rgb, alpha = _photo_arrays(image)
            profile = rgb_profile(image)
        except MemoryError:
            raise ImageReadError(path, "not enough memory to decode this image") from None
        finally:
            image.close()
    return Photo(path=path, rgb=rgb, alpha=alpha, icc_profile=profile)


def rgb_profile(image: Image.Image) -> bytes | None:
    """The image's embedded ICC profile where it describes the RGB pixels ``read_photo`` keeps.

    A CMYK or grey profile is dropped: those pixels are converted to RGB without it (plain
    sRGB), and an RGB file must not carry a profile of another colour space.
    """
    profile = image.info.get("icc_profile")
    if image.mode not in ("RGB", "RGBA", "RGBX", "P") or not isinstance(profile, bytes):
        return None
    # ICC header: bytes 16..19 name the data colour space; 36..39 hold the signature 'acsp'
    if len(profile) < 128 or profile[16:20] != b"RGB " or profile[36:40] != b"acsp":
        return None
    return profile


def with_icc_profile(png: bytes, profile: bytes | None) -> bytes:
    """PNG bytes with an iCCP chunk carrying ``profile`` after the IHDR (unchanged for None).

    For encoders that cannot embed a profile themselves (OpenCV's)."""
    if profile is None:
        return png
    ihdr_end = len(_PNG_SIGNATURE) + 8 + 13 + 4  # the IHDR chunk is first and 13 bytes long
    if not png.startswith(_PNG_SIGNATURE) or png[12:16] != b"IHDR":
        raise ValueError("not a PNG stream")
    data = b"ICC profile\0\0" + zlib.compress(profile)  # name, separator, method 0 (deflate)
    chunk = struct.pack(">I", len(data)) + b"iCCP" + data + struct.pack(">I", zlib.crc32(b"iCCP" + data))
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def _photo_arrays(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    width, height = image.size
    mode = image.mode
    transparent = mode in _TRANSPARENT_MODES or (mode == "P" and "transparency" in image.info)
    top = None
    if mode.startswith("I;16"):
        top = 65535  # 16-bit samples span the full 0..65535 range
    elif mode in ("I", "F"):
        low, high = image.getextrema()
        top = 1.0 if mode == "F" and high <= 1.0 else (65535 if high > 255 else 255)
    rgb = np.empty((height, width, 3), dtype=np.uint8)
    alpha = np.empty((height, width), dtype=np.uint8) if transparent else None
    rows = max(1, _STRIP_BYTES // (4 * width))
    for top_row in range(0, height, rows):
        strip = image.crop((0, top_row, width, min(height, top_row + rows)))
        target = rgb[top_row : top_row + rows]
        if transparent:
            rgba = np.asarray(strip.convert("RGBA"))
            weight = rgba[..., 3:].astype(np.uint16)
            # composite over white: rgb * a + 255 * (1 - a), in integers, rounded
            target[...] = (rgba[..., :3] * weight + 255 * (255 - weight) + 127) // 255
            alpha[top_row : top_row + rows] = rgba[..., 3]
        elif mode in _HIGH_DEPTH_MODES:
            target[...] = _to_uint8(np.asarray(strip), top)[..., None]
        else:
            target[...] = np.asarray(strip if mode == "RGB" else strip.convert("RGB"))
    if alpha is not None and alpha.min() == 255:
        alpha = None
    return rgb, alpha


def read_rgb(path: str | Path) -> np.ndarray:
    """The (H, W, 3) uint8 RGB content of a photo (see ``read_photo``)."""
    return read_photo(path).rgb


def read_gray(path: str | Path) -> np.ndarray:
    """An 8-bit map (a confidence or weight map) as a (H, W) uint8 array; colour files give luminance."""
    path = Path(path)
    with _open_checked(path) as opened:
        image = _decode(path, opened)
    values = np.asarray(image.convert("L")) if image.mode != "L" else np.asarray(image)
    return np.ascontiguousarray(values, dtype=np.uint8)


def read_mask(path: str | Path, *, strict: bool = False) -> np.ndarray:
    """A mask file as a (H, W) bool array, True = car.

    The rule: palette images are read by index, colour images by their brightest channel.
    Masks whose values are only 0 and 1 (Carvana's GIFs) take value > 0 as car; masks that
    use larger values (0/255, anti-aliased) take value > 127, so a soft edge splits at half.
    ``strict`` (training data) refuses with ``ImageReadError`` a file whose pixels are mostly
    neither dark nor bright: a photo given as a mask.
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
    if strict and threshold:
        middle = float(np.mean((values > 31) & (values < 224)))
        if middle > MAX_MIDDLE_SHARE:
            raise ImageReadError(path, f"looks like a photo, not a mask ({middle:.0%} of its pixels are neither dark "
                                       "nor bright)")
    return values > threshold


def encode_png(array: np.ndarray, *, compress_level: int = 3, icc_profile: bytes | None = None) -> bytes:
    """PNG bytes of a (H, W), (H, W, 3) or (H, W, 4) uint8 array, with ``icc_profile`` if given."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(
        buffer, format="PNG", compress_level=compress_level, icc_profile=icc_profile)
    return buffer.getvalue()


def encode_image(array: np.ndarray, format: str, *, quality: int = 92, icc_profile: bytes | None = None) -> bytes:
    """Encode a uint8 array as PNG, JPEG or WEBP, with ``icc_profile`` if given."""
    format = format.upper()
    if format == "PNG":
        return encode_png(array, icc_profile=icc_profile)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buffer, format=format, quality=quality, icc_profile=icc_profile)
    return buffer.getvalue()


def write_image(
    path: str | Path, array: np.ndarray, *, format: str | None = None, quality: int = 92,
    icc_profile: bytes | None = None,
) -> None:
    """Encode ``array`` and write it to ``path`` atomically (format from the suffix by default)."""
    path = Path(path)
    if format is None:
        format = {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}.get(path.suffix.lower(), "PNG")
    write_bytes_atomic(path, encode_image(array, format, quality=quality, icc_profile=icc_profile))


@dataclass(frozen=True)
class LeftOut:
    """A file a folder scan left out and why; ``unreadable`` marks a folder that could not be
    read (an error, where the others are the scan's rule)."""

    path: Path
    reason: str
    unreadable: bool = False


def describe_left_out(left_out: list[LeftOut]) -> str:
    """One line on the files a folder scan left out by its rule ('' when none); folders that
    could not be read are errors and are reported one by one by the caller."""
    skipped = [item for item in left_out if not item.unreadable]
    if not skipped:
        return ""
    return (f"{len(skipped)} file(s) left out of the folder scan: no image extension "
            f"({', '.join(sorted(IMAGE_EXTENSIONS))})")


def iter_image_files(
    paths: Iterable[str | Path], *, recursive: bool = False, left_out: list[LeftOut] | None = None
) -> Iterator[tuple[Path, Path]]:
    """Yield ``(file, root)`` for each input: files as given, folders scanned for images.

    ``root`` is the folder a file was found under (the file's own folder for a file given
    directly), so callers can mirror sub-folders. Symbolic-link loops are visited once.
    A folder given that cannot be read raises ``ImageReadError``; ``left_out`` (when given)
    receives the visible files without an image extension and the sub-folders that could not
    be read, so nothing is left out in silence.
    """
    notes = left_out if left_out is not None else []
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            yield path, path.parent
            continue
        try:
            os.scandir(path).close()
        except OSError as error:
            raise ImageReadError(path, f"cannot read the folder ({error.strerror or error})") from None
        seen: set[str] = set()
        for folder, subfolders, files in os.walk(path, followlinks=True, onerror=lambda error: notes.append(
                LeftOut(Path(error.filename), f"cannot read the folder ({error.strerror or error})", unreadable=True))):
            real = os.path.realpath(folder)
            if real in seen:
                subfolders[:] = []
                continue
            seen.add(real)
            subfolders.sort()
            if not recursive:
                subfolders[:] = []
            for name in sorted(files):
                if name.startswith("."):
                    continue  # hidden files (the app's own logs among them) are never photos
                if Path(name).suffix.lower() in IMAGE_EXTENSIONS:
                    yield Path(folder) / name, path
                else:
                    notes.append(LeftOut(Path(folder) / name, "no image extension"))
