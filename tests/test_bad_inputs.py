"""Bad input photos, in the core and through ``maskingnet predict``: each case ends in a correct
result or a one-line error naming the file, never a traceback or a half-written output, and the
rest of a batch is still done (issue 8)."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile
from torch import nn

from core import cli
from core.batch.pipeline import plan_jobs
from core.errors import ImageReadError
from core.io.imageio import MAX_PIXELS, iter_image_files, read_photo
from core.masking.export import ExportOptions, export_photo
from core.masking.inference import Segmenter
from core.models.checkpoint import ModelConfig
from core.models.preprocess import Preprocess

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Pillow warns before core.io.imageio refuses; the CLI silences it, pytest re-enables it per test.
pytestmark = [
    pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning"),
    pytest.mark.usefixtures("one_torch_thread"),
]
RED = (220, 30, 30)
BLUE = (30, 60, 200)


# ---------------------------------------------------------------------------------------------
# A model whose answer is known: the car is wherever the photo is red.


class RedIsCar(nn.Module):
    """Logits that call a pixel car where its red channel is above one half."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        threshold = (0.5 - 0.485) / 0.229  # red = 0.5 after ImageNet normalisation
        score = 20.0 * (x[:, :1] - threshold)
        return torch.cat([-score, score], dim=1)


def red_segmenter(size: int = 64) -> Segmenter:
    config = ModelConfig(arch="maskingnet", width=4, preprocess=Preprocess(size=size), info={"name": "red-is-car"})
    return Segmenter(RedIsCar(), config, device="cpu", name="red-is-car")


def use_red_segmenter(monkeypatch) -> None:
    """Make ``maskingnet predict`` (and every ``Segmenter.load``) use ``red_segmenter``."""
    monkeypatch.setattr(Segmenter, "load", classmethod(lambda cls, *args, **kwargs: red_segmenter()))


def two_colour(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """An asymmetric photo: a red block in the top-left quarter (the 'car') on blue, and its mask."""
    rgb = np.empty((height, width, 3), dtype=np.uint8)
    rgb[...] = BLUE
    mask = np.zeros((height, width), dtype=bool)
    mask[: height // 2, : width // 3] = True
    rgb[mask] = RED
    return rgb, mask


def mostly_equal(a: np.ndarray, b: np.ndarray, share: float = 0.03) -> bool:
    """True when ``a`` and ``b`` (bool) differ on less than ``share`` of the pixels (edges)."""
    return a.shape == b.shape and float(np.mean(a != b)) < share


# ---------------------------------------------------------------------------------------------
# Makers of bad files.


def jpeg_bytes(rgb: np.ndarray, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=95, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int, height: int) -> bytes:
    """A valid-looking PNG of a few hundred bytes whose header claims ``width`` x ``height``."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 1000)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", pixels) + png_chunk(b"IEND", b"")


def broken_crc_png(rgb: np.ndarray) -> bytes:
    """A PNG whose pixel data is intact but whose IDAT checksum is wrong."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    start = data.find(b"IDAT")
    (length,) = struct.unpack(">I", data[start - 4 : start])
    data[start + 4 + length] ^= 0xFF
    return bytes(data)


def noise(width: int = 60, height: int = 40, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


BAD_FILES = {
    # name: (maker, words the one-line error must contain)
    "zero-byte.jpg": (lambda: b"", "empty"),
    "text.jpg": (lambda: b"Dear user, I am a text file.\n" * 20, "not an image"),
    "truncated.jpg": (lambda: jpeg_bytes(noise())[:1500], "truncated"),
    "broken-checksum.png": (lambda: broken_crc_png(noise()), "checksum error in chunk IDAT"),
    "bomb.png": (lambda: bomb_png(60000, 60000), "refused"),
    "just-over-limit.png": (lambda: bomb_png(20000, 15000), "refused: 20000x15000"),
}


@pytest.fixture
def bad_folder(tmp_path: Path) -> Path:
    """A folder with every bad file and two good photos."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, (make, _) in BAD_FILES.items():
        (folder / name).write_bytes(make())
    rgb, _ = two_colour(48, 32)
    Image.fromarray(rgb).save(folder / "good one.png")
    (folder / "good two.jpg").write_bytes(jpeg_bytes(rgb))
    return folder


def assert_one_line_error(error: ImageReadError, path: Path, words: str) -> None:
    message = str(error)
    assert "\n" not in message
    assert str(path) in message
    assert words in message


# ---------------------------------------------------------------------------------------------
# Core: each bad file is refused with one line naming it.


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_is_refused_with_one_line_naming_it(bad_folder: Path, name: str) -> None:
    with pytest.raises(ImageReadError) as caught:
        read_photo(bad_folder / name)
    assert_one_line_error(caught.value, bad_folder / name, BAD_FILES[name][1])


def test_missing_file_and_folder_named_like_a_photo(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="no such file"):
        read_photo(tmp_path / "gone.jpg")
    (tmp_path / "folder.jpg").mkdir()
    with pytest.raises(ImageReadError, match="is a folder"):
        read_photo(tmp_path / "folder.jpg")


def test_broken_checksum_in_header_names_the_chunk(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.fromarray(noise()).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    data[8 + 8 + 13] ^= 0x01  # the IHDR chunk's CRC
    (tmp_path / "header.png").write_bytes(bytes(data))
    with pytest.raises(ImageReadError, match="checksum error in chunk IHDR"):
        read_photo(tmp_path / "header.png")


def test_every_flipped_bit_in_png_pixel_data_is_caught(tmp_path: Path) -> None:
    """Pillow alone decodes some of these into silently wrong pixels; the CRC check refuses all."""
    rgb, _ = two_colour(120, 80)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    clean = buffer.getvalue()
    start = clean.find(b"IDAT") + 4
    (length,) = struct.unpack(">I", clean[start - 8 : start - 4])
    rng = np.random.default_rng(7)
    for trial in range(40):
        data = bytearray(clean)
        data[start + int(rng.integers(0, length))] ^= 1 << int(rng.integers(0, 8))
        path = tmp_path / f"flip{trial}.png"
        path.write_bytes(bytes(data))
        with pytest.raises(ImageReadError):
            read_photo(path)


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb_png(60000, 60000))
    assert path.stat().st_size < 1000

    def no_decoding(self, *args, **kwargs):
        raise AssertionError("the bomb was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    for width, height in ((60000, 60000), (20000, 15000)):
        path.write_bytes(bomb_png(width, height))
        with pytest.raises(ImageReadError, match="refused"):
            read_photo(path)
    assert 20000 * 15000 > MAX_PIXELS


# ---------------------------------------------------------------------------------------------
# Core: unusual but valid photos decode to the right pixels.


def test_16_bit_png_scales_to_8_bit(tmp_path: Path) -> None:
    values = np.linspace(0, 65535, 64 * 8).astype(np.uint16).reshape(8, 64)
    Image.fromarray(values).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I;16")
    photo = read_photo(tmp_path / "deep.png")
    assert photo.rgb.dtype == np.uint8 and photo.rgb.shape == (8, 64, 3)
    assert np.abs(photo.rgb[..., 0].astype(int) - values.astype(int) // 257).max() <= 1
    # a dark 16-bit photo stays dark (not stretched as if it were 8-bit)
    Image.fromarray(np.full((4, 4), 200, np.uint16)).save(tmp_path / "dark.png")
    assert read_photo(tmp_path / "dark.png").rgb.max() <= 1


def test_cmyk_jpeg_decodes_to_rgb(tmp_path: Path) -> None:
    rgb, _ = two_colour(48, 32)
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "print.jpg", quality=95)
    assert Image.open(tmp_path / "print.jpg").mode == "CMYK"
    photo = read_photo(tmp_path / "print.jpg")
    assert photo.rgb.shape == (32, 48, 3)
    assert np.abs(photo.rgb.astype(int) - rgb.astype(int)).mean() < 8


@pytest.mark.parametrize("mode", ["L", "P", "1", "I", "F"])
def test_grayscale_palette_and_deep_modes(tmp_path: Path, mode: str) -> None:
    rgb, _ = two_colour(48, 32)
    image = Image.fromarray(rgb)
    image = image.convert("L").convert(mode) if mode in ("1", "I", "F") else image.convert(mode)
    suffix = ".tif" if mode in ("I", "F") else ".png"
    image.save(tmp_path / f"photo{suffix}")
    photo = read_photo(tmp_path / f"photo{suffix}")
    assert photo.rgb.shape == (32, 48, 3) and photo.rgb.dtype == np.uint8 and photo.alpha is None
    expected = np.asarray(image.convert("RGB")) if mode in ("L", "P", "1") else np.asarray(image.convert("L").convert("RGB"))
    assert np.abs(photo.rgb.astype(int) - expected.astype(int)).max() <= 1


def test_rgba_is_composited_on_white_and_keeps_its_alpha(tmp_path: Path) -> None:
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., :3] = (200, 100, 0)
    rgba[..., 3] = [[0, 128, 255], [255, 255, 255]]
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    photo = read_photo(tmp_path / "rgba.png")
    assert photo.rgb[0, 0].tolist() == [255, 255, 255]  # transparent: white
    assert photo.rgb[0, 2].tolist() == [200, 100, 0]  # opaque: its colour
    assert photo.rgb[0, 1].tolist() == [227, 177, 127]  # half: blended with white
    assert photo.alpha.tolist() == rgba[..., 3].tolist()


def test_la_and_palette_transparency_keep_alpha(tmp_path: Path) -> None:
    la = np.zeros((4, 4, 2), np.uint8)
    la[..., 0] = 50
    la[:, 2:, 1] = 255
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    photo = read_photo(tmp_path / "la.png")
    assert photo.alpha[:, :2].max() == 0 and photo.alpha[:, 2:].min() == 255
    assert photo.rgb[0, 0].tolist() == [255, 255, 255] and photo.rgb[0, 3].tolist() == [50, 50, 50]

    palette = Image.new("P", (4, 4), 1)
    palette.putpalette([0, 0, 0, 200, 0, 0] + [0] * 762)
    palette.putpixel((0, 0), 0)
    palette.save(tmp_path / "palette.png", transparency=0)
    photo = read_photo(tmp_path / "palette.png")
    assert photo.alpha[0, 0] == 0 and photo.alpha[1, 1] == 255
    assert photo.rgb[1, 1].tolist() == [200, 0, 0]


def test_opaque_rgba_has_no_alpha(tmp_path: Path) -> None:
    rgba = np.full((4, 4, 4), 255, np.uint8)
    Image.fromarray(rgba).save(tmp_path / "opaque.png")
    assert read_photo(tmp_path / "opaque.png").alpha is None


def test_exported_alpha_is_mask_times_input_alpha(tmp_path: Path) -> None:
    """Transparent input pixels stay transparent: the exported alpha is min(mask, input alpha)
    (the product, for a hard mask), and the model's mask is itself limited by the input alpha."""
    rgb, mask = two_colour(48, 32)
    alpha = np.tile(np.linspace(0, 255, 48).astype(np.uint8), (32, 1))
    Image.fromarray(np.dstack([rgb, alpha])).save(tmp_path / "cut.png")
    photo = read_photo(tmp_path / "cut.png")
    prediction = red_segmenter().predict(photo.rgb, photo.alpha)
    assert prediction.probability.max() <= 255
    assert (prediction.probability <= alpha).all()
    export_photo(photo, mask, tmp_path / "out.png")
    written = np.asarray(Image.open(tmp_path / "out.png"))
    assert written.shape == (32, 48, 4)
    assert (written[..., 3] == np.where(mask, alpha, 0)).all()


def test_progressive_jpeg_decodes_like_baseline(tmp_path: Path) -> None:
    rgb = noise(64, 48)
    (tmp_path / "baseline.jpg").write_bytes(jpeg_bytes(rgb))
    (tmp_path / "progressive.jpg").write_bytes(jpeg_bytes(rgb, progressive=True))
    assert Image.open(tmp_path / "progressive.jpg").info.get("progressive")
    progressive = read_photo(tmp_path / "progressive.jpg").rgb
    baseline = read_photo(tmp_path / "baseline.jpg").rgb
    assert progressive.shape == (48, 64, 3)
    assert np.abs(progressive.astype(int) - baseline.astype(int)).mean() < 2


# ---------------------------------------------------------------------------------------------
# EXIF orientation: the photo and its mask come back as the user sees them.


def stored_for(seen: np.ndarray, orientation: int) -> np.ndarray:
    """The pixels a camera stores, with EXIF ``orientation``, to show ``seen`` (the EXIF spec)."""
    return {
        1: lambda a: a,
        2: np.fliplr,
        3: lambda a: np.rot90(a, 2),
        4: np.flipud,
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, 1),  # shown rotated 90 degrees clockwise
        7: lambda a: np.rot90(a, 2).transpose(1, 0, 2),
        8: lambda a: np.rot90(a, -1),  # shown rotated 90 degrees counter-clockwise
    }[orientation](seen)


def save_with_orientation(path: Path, seen: np.ndarray, orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(np.ascontiguousarray(stored_for(seen, orientation))).save(path, quality=95, exif=exif.tobytes())


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_photo_and_mask_as_seen(tmp_path: Path, orientation: int) -> None:
    seen, mask = two_colour(48, 32)
    path = tmp_path / f"oriented{orientation}.jpg"
    save_with_orientation(path, seen, orientation)
    assert Image.open(path).getexif()[0x0112] == orientation
    photo = read_photo(path)
    assert photo.rgb.shape == seen.shape
    assert np.abs(photo.rgb.astype(int) - seen.astype(int)).mean() < 6
    assert mostly_equal(red_segmenter().predict(photo.rgb).mask, mask)


def test_exif_orientation_through_the_cli(tmp_path: Path, monkeypatch, capsys) -> None:
    seen, mask = two_colour(48, 32)
    folder = tmp_path / "in"
    folder.mkdir()
    for orientation in range(1, 9):
        save_with_orientation(folder / f"o{orientation}.jpg", seen, orientation)
    use_red_segmenter(monkeypatch)
    assert cli.main(["predict", str(folder), "-o", str(tmp_path / "out"), "--mask-only"]) == 0
    assert "8 masked, 0 skipped, 0 failed" in capsys.readouterr().err
    for orientation in range(1, 9):
        written = Image.open(tmp_path / "out" / f"o{orientation}.png")
        assert 0x0112 not in written.getexif()
        assert mostly_equal(np.asarray(written) > 127, mask), orientation


# ---------------------------------------------------------------------------------------------
# Sizes: tiny photos, and a very large one at full resolution.




def test_tiny_photos_are_masked_at_their_size(tmp_path: Path, tiny_checkpoint: Path, capsys) -> None:
    sizes = [(1, 1), (7, 5), (5, 7), (2, 300)]
    segmenter = Segmenter.load(tiny_checkpoint, device="cpu")
    for width, height in sizes:
        Image.fromarray(noise(width, height)).save(tmp_path / f"tiny{width}x{height}.png")
        photo = read_photo(tmp_path / f"tiny{width}x{height}.png")
        assert segmenter.predict(photo.rgb).probability.shape == (height, width)
    assert cli.main(["predict", str(tmp_path), "-o", str(tmp_path / "out"), "--model", str(tiny_checkpoint)]) == 0
    for width, height in sizes:
        assert Image.open(tmp_path / "out" / f"tiny{width}x{height}.png").size == (width, height)


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="peak memory is read from /proc (Linux)")
def test_very_large_photo_masked_at_full_resolution_in_bounded_memory(tmp_path: Path, tiny_checkpoint: Path) -> None:
    """A 12000x9000 (108 MP) photo through the CLI in a fresh process: the cut-out is written at
    full resolution, and the peak memory above the loaded model stays near what the pixels need
    (photo 3 B/px + decoder 4 B/px + mask and alpha 3 B/px, about 10.5 B/px measured), far below
    a float32 probability/composite path (16+ B/px per full-size copy)."""
    width, height = 12000, 9000
    Image.new("RGB", (width, height), RED).save(tmp_path / "huge.jpg", quality=70)
    script = (
        "import sys\n"
        "def peak_kb():  # VmHWM: this process's own peak (ru_maxrss also counts the forked parent)\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmHWM:'):\n"
        "            return int(line.split()[1])\n"
        "from core import cli\n"
        "import core.masking.inference, core.batch.pipeline, core.masking.export\n"
        "base = peak_kb()\n"
        f"code = cli.main(['predict', {str(tmp_path / 'huge.jpg')!r}, '-o', {str(tmp_path / 'out')!r},"
        f" '--model', {str(tiny_checkpoint)!r}, '--device', 'cpu'])\n"
        "print('RSS_KB', base, peak_kb())\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    base_kb, peak_kb = (int(v) for v in done.stdout.split("RSS_KB")[1].split())
    growth_per_pixel = (peak_kb - base_kb) * 1024 / (width * height)
    print(f"12000x9000 predict: peak RSS {peak_kb / 1024:.0f} MB, {growth_per_pixel:.1f} bytes/pixel above the loaded CLI")
    assert growth_per_pixel < 14
    with Image.open(tmp_path / "out" / "huge.png") as written:
        assert written.size == (width, height) and written.mode == "RGBA"
    assert (tmp_path / "out" / "huge.png").read_bytes()[-12:] == png_chunk(b"IEND", b"")  # complete


# ---------------------------------------------------------------------------------------------
# Names and folders.


@pytest.mark.parametrize("name", ["with spaces in it.jpg", "voiture été 日本車.jpg", "no-extension", "bad\udcffbyte.jpg"])
def test_unusual_names(tmp_path: Path, name: str, tiny_checkpoint: Path, monkeypatch, capsys) -> None:
    undecodable = "\udcff" in name  # a byte that is not UTF-8: pytest's capture cannot print it
    if undecodable and os.name != "posix":
        pytest.skip("undecodable bytes in names are a POSIX case")
    seen, mask = two_colour(48, 32)
    path = tmp_path / "in" / name
    path.parent.mkdir()
    path.write_bytes(jpeg_bytes(seen))
    output = tmp_path / "out" / (Path(name).stem + ".png")
    assert mostly_equal(red_segmenter().predict(read_photo(path).rgb).mask, mask)
    if undecodable:  # through a real terminal process, whose stderr escapes the byte
        done = subprocess.run([sys.executable, "-m", "core.cli", "predict", str(path), "-o", str(output.parent),
                               "--model", str(tiny_checkpoint)], cwd=PROJECT_ROOT, capture_output=True, timeout=120)
        assert done.returncode == 0 and b"Traceback" not in done.stderr
        assert Image.open(output).size == (48, 32)
    else:
        use_red_segmenter(monkeypatch)
        assert cli.main(["predict", str(path), "-o", str(output.parent), "--mask-only"]) == 0
        assert mostly_equal(np.asarray(Image.open(output)) > 127, mask)
    # a broken file of that name: the error line names it
    path.write_bytes(b"")
    with pytest.raises(ImageReadError) as caught:
        read_photo(path)
    assert_one_line_error(caught.value, path, "the file is empty")
    if not undecodable:
        capsys.readouterr()
        assert cli.main(["predict", str(path), "-o", str(tmp_path / "out2")]) == 1
        assert f"error: {path}: the file is empty" in capsys.readouterr().err


def test_folder_scan_skips_files_without_an_image_extension(tmp_path: Path) -> None:
    """In a folder only image extensions are taken (a photo without one must be named directly)."""
    (tmp_path / "photo.JPG").write_bytes(jpeg_bytes(noise()))
    (tmp_path / "notes.txt").write_text("not a photo")
    (tmp_path / "no-extension").write_bytes(jpeg_bytes(noise()))
    (tmp_path / ".hidden.jpg").write_bytes(jpeg_bytes(noise()))
    assert [p.name for p, _ in iter_image_files([tmp_path])] == ["photo.JPG"]


def test_folder_with_no_images(tmp_path: Path, tiny_checkpoint: Path, capsys) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("nothing to see")
    assert plan_jobs([empty], tmp_path / "out", ExportOptions()) == []
    assert cli.main(["predict", str(empty), "-o", str(tmp_path / "out"), "--model", str(tiny_checkpoint)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"error: no images found in {empty}"
    assert err[:-1] == ["note: 1 file(s) left out of the folder scan: no image extension (.bmp, .gif, .jpeg, .jpg, .png, "
                        ".tif, .tiff, .webp); --list-left-out names them"]  # said, never in silence
    assert not (tmp_path / "out").exists()


def test_symlink_loop_in_a_recursive_scan(tmp_path: Path, monkeypatch, capsys) -> None:
    root = tmp_path / "shoot"
    (root / "day1").mkdir(parents=True)
    seen, mask = two_colour(48, 32)
    (root / "a.jpg").write_bytes(jpeg_bytes(seen))
    (root / "day1" / "b.jpg").write_bytes(jpeg_bytes(seen))
    (root / "day1" / "loop").symlink_to(root, target_is_directory=True)
    (root / "self").symlink_to(".", target_is_directory=True)
    (root / "dangling.jpg").symlink_to(tmp_path / "nowhere.jpg")
    found = sorted(str(p.relative_to(root)) for p, _ in iter_image_files([root], recursive=True))
    assert found == ["a.jpg", "dangling.jpg", "day1/b.jpg"]
    use_red_segmenter(monkeypatch)
    code = cli.main(["predict", str(root), "-o", str(tmp_path / "out"), "--recursive", "--mask-only"])
    err = capsys.readouterr().err
    assert code == 1  # the dangling link failed
    assert f"error: {root / 'dangling.jpg'}: no such file" in err
    assert "2 masked, 0 skipped, 1 failed" in err
    assert (tmp_path / "out" / "a.png").is_file() and (tmp_path / "out" / "day1" / "b.png").is_file()


# ---------------------------------------------------------------------------------------------
# A batch with every bad file: the rest is done, one line per failure, exit code 1.


def check_batch_output(folder: Path, out: Path, err: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    failed = [line for line in lines if line.startswith("error: ")]
    assert len(failed) == len(BAD_FILES)
    for name, (_, words) in BAD_FILES.items():
        assert any(line.startswith(f"error: {folder / name}: ") and words in line for line in failed), name
    assert any(line.startswith(f"2 masked, 0 skipped, {len(BAD_FILES)} failed") for line in lines)
    outputs = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert outputs == ["good one.png", "good two.png"]
    for output in out.glob("*.png"):
        with Image.open(output) as image:
            image.load()


def test_batch_with_bad_files_in_process(bad_folder: Path, tmp_path: Path, tiny_checkpoint: Path, capsys) -> None:
    out = tmp_path / "out"
    code = cli.main(["predict", str(bad_folder), "-o", str(out), "--model", str(tiny_checkpoint), "--batch-size", "2"])
    assert code == 1
    check_batch_output(bad_folder, out, capsys.readouterr().err)


def test_batch_with_bad_files_in_a_terminal_process(bad_folder: Path, tmp_path: Path, tiny_checkpoint: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "core.cli", "predict", str(bad_folder), "-o", str(out), "--model", str(tiny_checkpoint)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "default"},
    )
    assert done.returncode == 1
    assert done.stdout == ""
    check_batch_output(bad_folder, out, done.stderr)
