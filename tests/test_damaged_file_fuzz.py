"""Property tests: damaged photos, masks and model files (valid files cut short, overwritten, spliced).

Each reader either returns a usable result or refuses with one line that names the file; it never
raises anything else. The hand-picked cases are in test_bad_inputs.py and test_untrusted_models.py;
these cover the damage nobody thought of.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from core.errors import MaskingNetError
from tests.test_record_fuzz import refused_in_one_line

# Pillow warns about some damaged TIFF tags and reads on: a warning, not an error
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _encoded(format: str, array: np.ndarray, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format, **options)
    return buffer.getvalue()


_PIXELS = (np.random.default_rng(0).random((24, 32, 3)) * 255).astype(np.uint8)
_IMAGES = {
    ".jpg": _encoded("jpeg", _PIXELS),
    ".jpeg": _encoded("jpeg", _PIXELS, progressive=True),
    ".png": _encoded("png", np.dstack([_PIXELS, _PIXELS[..., :1]])),
    ".webp": _encoded("webp", _PIXELS),
    ".tif": _encoded("tiff", _PIXELS),
    ".bmp": _encoded("bmp", _PIXELS),
    ".gif": _encoded("gif", _PIXELS[..., 0]),
}


@st.composite
def damaged(draw, original: bytes) -> bytes:
    """``original`` cut short, with bytes overwritten, inserted or removed."""
    data = bytearray(original)
    kind = draw(st.sampled_from(["cut", "overwrite", "insert", "remove", "big number"]))
    at = draw(st.integers(0, len(data) - 5))
    if kind == "cut":
        return bytes(data[: max(1, at)])
    if kind == "overwrite":
        for offset in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=8)):
            data[offset] = draw(st.integers(0, 255))
        return bytes(data)
    if kind == "insert":
        return bytes(data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:])
    if kind == "remove":
        return bytes(data[:at] + data[at + draw(st.integers(1, 64)):])
    data[at : at + 4] = draw(st.sampled_from([b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff"]))
    return bytes(data)


@pytest.fixture
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("damaged")


@FUZZ
@given(st.sampled_from(sorted(_IMAGES)).flatmap(lambda suffix: st.tuples(st.just(suffix), damaged(_IMAGES[suffix]))))
def test_damaged_photos_and_masks(scratch, case):
    from core.io.imageio import read_mask, read_photo

    suffix, data = case
    path = scratch / f"photo{suffix}"
    path.write_bytes(data)
    try:
        photo = read_photo(path)
    except MaskingNetError as error:
        refused_in_one_line(error, path)
    else:
        assert photo.rgb.dtype == np.uint8 and photo.rgb.ndim == 3 and photo.rgb.shape[2] == 3
    try:
        mask = read_mask(path)
    except MaskingNetError as error:
        refused_in_one_line(error, path)
    else:
        assert mask.ndim == 2


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> bytes:
    from core.models.checkpoint import ModelConfig, save_model
    from core.models.preprocess import Preprocess

    config = ModelConfig(arch="maskingnet", width=2, preprocess=Preprocess(size=32))
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    save_model(path, config.build().eval(), config)
    return path.read_bytes()


@FUZZ
@given(st.data())
def test_damaged_model_files(scratch, model_file, data):
    from core.models.checkpoint import load_model

    header_end = 8 + int.from_bytes(model_file[:8], "little")
    damage_header = data.draw(st.booleans())
    if damage_header:  # the configuration and tensor table: printable bytes keep it near-JSON
        broken = bytearray(model_file)
        for offset in data.draw(st.lists(st.integers(8, header_end - 1), min_size=1, max_size=6)):
            broken[offset] = data.draw(st.integers(32, 126))
        broken = bytes(broken)
    else:
        broken = data.draw(damaged(model_file))
    path = scratch / "model.safetensors"
    path.write_bytes(broken)
    try:
        model, config = load_model(path)
    except MaskingNetError as error:
        refused_in_one_line(error, path)
    else:
        assert config.width == 2 and sum(p.numel() for p in model.parameters()) > 0
