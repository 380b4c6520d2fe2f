"""The six networks of the study: exact sizes, shapes, gradients, input checks, coordinate maps."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from core.models.networks import (
    MODEL_NAMES,
    SIZE_MULTIPLE,
    STUDY_PARAMETER_COUNTS,
    UnknownModelError,
    count_parameters,
    create_model,
)
from core.models.networks.blocks import CBR, coordinate_maps
from core.models.networks.indexed import IndexedSegNet


def test_registry_names_are_the_study_six():
    assert MODEL_NAMES == ("unet", "segnet", "arc1", "arc2", "arc3", "maskingnet")
    assert set(STUDY_PARAMETER_COUNTS) == set(MODEL_NAMES)
    assert SIZE_MULTIPLE == 32


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_parameter_count_matches_the_study_at_width_64(name):
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        model = create_model(name, width=64, num_classes=2)
    assert count_parameters(model) == STUDY_PARAMETER_COUNTS[name]
    assert sum(p.numel() for p in model.parameters()) == STUDY_PARAMETER_COUNTS[name]


def test_study_counts_are_the_published_figures():
    assert STUDY_PARAMETER_COUNTS == {
        "unet": 31_043_586,
        "segnet": 29_444_162,
        "arc1": 32_799_554,
        "arc2": 32_800_706,
        "arc3": 32_808_770,
        "maskingnet": 32_808_770,
    }


def test_vgg_encoder_has_the_torchvision_size():
    with torch.device("meta"):
        model = create_model("segnet", width=64)
    assert count_parameters(model.encoder) == 14_723_136  # torchvision vgg16_bn().features


def test_width_scales_the_cost_by_about_its_square():
    with torch.device("meta"):
        full = count_parameters(create_model("maskingnet", width=64))
        half = count_parameters(create_model("maskingnet", width=32))
    assert 3.8 < full / half < 4.2


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("size", [(64, 64), (64, 96)], ids=["64x64", "64x96"])
def test_forward_and_backward_at_a_small_width(name, size):
    torch.manual_seed(0)
    model = create_model(name, width=4).train()
    height, width = size
    x = torch.randn(2, 3, height, width, requires_grad=True)
    logits = model(x)
    assert logits.shape == (2, 2, height, width)
    assert torch.isfinite(logits).all()
    logits.logsumexp(dim=1).mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    without_grad = [n for n, p in model.named_parameters() if p.grad is None]
    assert not without_grad, f"parameters that got no gradient: {without_grad[:5]}"


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_channels_last_and_num_classes(name):
    model = create_model(name, width=4, num_classes=3).eval().to(memory_format=torch.channels_last)
    x = torch.randn(1, 3, 32, 64).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        assert model(x).shape == (1, 3, 32, 64)


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("size", [(48, 64), (64, 40), (100, 100)])
def test_sizes_not_a_multiple_of_32_are_refused_clearly(name, size):
    model = create_model(name, width=4).eval()
    with pytest.raises(ValueError, match="multiple of 32") as info:
        model(torch.zeros(1, 3, *size))
    assert f"{size[0]}x{size[1]}" in str(info.value)
    assert "resize or pad" in str(info.value)


@pytest.mark.parametrize("shape", [(3, 64, 64), (1, 1, 64, 64), (1, 4, 64, 64)])
def test_wrong_input_layout_is_refused(shape):
    model = create_model("maskingnet", width=4).eval()
    with pytest.raises(ValueError, match=r"expected a \(batch, 3, height, width\) tensor"):
        model(torch.zeros(*shape))


def test_unknown_model_name_lists_the_valid_ones():
    with pytest.raises(UnknownModelError) as info:
        create_model("resnet")
    message = str(info.value)
    assert "'resnet'" in message
    for name in MODEL_NAMES:
        assert name in message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("width", [0, 3, -2])
def test_bad_width_is_refused(width):
    with pytest.raises(ValueError, match="width"):
        create_model("unet", width=width)


def test_bad_num_classes_is_refused():
    with pytest.raises(ValueError, match="num_classes"):
        create_model("segnet", width=4, num_classes=0)


def test_builder_arguments_are_keyword_only():
    with pytest.raises(TypeError):
        create_model("unet", 16)  # type: ignore[misc]


def test_coordinate_map_values():
    maps = coordinate_maps(2, 3, 4, like=torch.zeros(1))
    assert maps.shape == (2, 2, 3, 4)
    expected_x = torch.tensor([0 / 4, 1 / 4, 2 / 4, 3 / 4]) - 0.5
    expected_y = torch.tensor([0 / 3, 1 / 3, 2 / 3]) - 0.5
    for batch in range(2):
        for row in range(3):
            assert torch.allclose(maps[batch, 0, row], expected_x)  # I_X = x / w - 0.5
        for column in range(4):
            assert torch.allclose(maps[batch, 1, :, column], expected_y)  # I_Y = y / h - 0.5
    assert maps[0, 0, 0, 0] == -0.5 and maps[0, 1, 0, 0] == -0.5


def test_coordinate_maps_follow_device_and_dtype_and_stay_exact_in_bfloat16():
    maps = coordinate_maps(1, 512, 512, like=torch.zeros(1, dtype=torch.bfloat16))
    assert maps.dtype == torch.bfloat16
    reference = coordinate_maps(1, 512, 512, like=torch.zeros(1))
    # bfloat16 keeps 8 significant bits: each value is within half a step of the float32 one.
    assert (maps.float() - reference).abs().max() <= 2**-9


def _capture_input(module: nn.Module) -> list[torch.Tensor]:
    captured: list[torch.Tensor] = []
    module.register_forward_pre_hook(lambda _module, args: captured.append(args[0].detach().clone()))
    return captured


@pytest.mark.parametrize("size", [(64, 64), (64, 96), (96, 32)])
def test_arc2_feeds_coordinate_maps_of_the_input_size_to_its_first_layer(size):
    model = create_model("arc2", width=4).eval()
    first_conv = model.encoder.stages[0][0][0]
    assert first_conv.in_channels == 5
    captured = _capture_input(first_conv)
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        model(x)
    seen = captured[0]
    assert torch.equal(seen[:, :3], x)
    assert torch.allclose(seen[:, 3:], coordinate_maps(2, *size, like=x))


@pytest.mark.parametrize("name", ["arc3", "maskingnet"])
@pytest.mark.parametrize("size", [(64, 64), (64, 96)])
def test_mid_layer_coordinate_maps_enter_the_bottleneck_at_its_resolution(name, size):
    model = create_model(name, width=4).eval()
    bottleneck = model.decoder[0][0][0]
    assert bottleneck.in_channels == 8 * 4 + 2
    captured = _capture_input(bottleneck)
    with torch.no_grad():
        model(torch.randn(1, 3, *size))
    seen = captured[0]
    h, w = size[0] // 16, size[1] // 16  # after four poolings and one unpooling
    assert seen.shape == (1, 34, h, w)
    assert torch.allclose(seen[:, 32:], coordinate_maps(1, h, w, like=seen))


def _dilations(model: nn.Module) -> list[int]:
    return [m.dilation[0] for m in model.modules() if isinstance(m, nn.Conv2d)]


def test_maskingnet_dilates_exactly_the_deepest_stage():
    masking = create_model("maskingnet", width=4)
    arc3 = create_model("arc3", width=4)
    assert set(_dilations(arc3)) == {1}
    deepest = [layer[0] for layer in masking.encoder.stages[4]] + [layer[0] for layer in masking.decoder[0]]
    assert len(deepest) == 6
    assert all(conv.dilation == (2, 2) and conv.padding == (2, 2) for conv in deepest)
    assert _dilations(masking).count(2) == 6
    assert count_parameters(masking) == count_parameters(arc3)


def test_segnet_family_shapes_follow_the_design_card():
    with torch.device("meta"):
        segnet = create_model("segnet", width=64)
        arc1 = create_model("arc1", width=64)
    assert isinstance(segnet, IndexedSegNet)
    assert [len(stage) for stage in segnet.decoder] == [3, 3, 3, 2, 1]
    assert [len(stage) for stage in arc1.decoder] == [3, 3, 3, 3, 3]
    assert arc1.decoder[1][0][0].in_channels == 1024  # unpooled 512 + conv4_3's 512
    assert segnet.classifier.kernel_size == (3, 3) and segnet.classifier.bias is not None
    assert all(isinstance(layer, CBR) for stage in arc1.decoder for layer in stage)


def test_unet_shapes_follow_the_design_card():
    with torch.device("meta"):
        unet = create_model("unet", width=64)
    assert [stage[1][0].out_channels for stage in unet.encoder] == [64, 128, 256, 512, 1024]
    assert unet.classifier.kernel_size == (1, 1)
    assert [up.in_channels for up in unet.upsamplers] == [1024, 512, 256, 128]


def test_bfloat16_autocast_forward_works_on_cpu():
    model = create_model("arc2", width=4).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        low = model(x).float()
    with torch.no_grad():
        full = model(x)
    assert low.shape == full.shape
    assert torch.isfinite(low).all()


# --- ImageNet VGG-16-BN initialisation (from a local file; nothing downloads in tests) ----------


@pytest.fixture(scope="module")
def vgg_features() -> dict[str, torch.Tensor]:
    """A randomly initialised torchvision VGG-16-BN ``features`` state (the layout of the real one)."""
    from torchvision.models.vgg import cfgs, make_layers

    with torch.device("meta"):  # the layout only; random values below are quicker than its init
        layout = make_layers(cfgs["D"], batch_norm=True).state_dict()
    generator = torch.Generator().manual_seed(0)
    return {name: torch.rand(tensor.shape, generator=generator).to(tensor.dtype) + (0.5 if "var" in name else 0.0)
            for name, tensor in layout.items()}


def test_vgg_weights_initialise_the_encoder(vgg_features, tmp_path):
    from safetensors.torch import save_file

    from core.models.networks.vgg_init import init_encoder_from_vgg, load_vgg16_bn_state

    full = {f"features.{name}": tensor for name, tensor in vgg_features.items()}
    full["classifier.0.weight"] = torch.zeros(2, 2)  # a whole vgg16_bn state: the head is ignored
    torch.save(full, tmp_path / "vgg16_bn.pth")
    save_file(vgg_features, str(tmp_path / "vgg16_bn.safetensors"))
    for path in (tmp_path / "vgg16_bn.pth", tmp_path / "vgg16_bn.safetensors"):
        state = load_vgg16_bn_state(path)
        assert set(state) == set(vgg_features)

    model = create_model("arc2", width=64)
    assert init_encoder_from_vgg(model, state) == 13
    layers = [layer for stage in model.encoder.stages for layer in stage]
    first = layers[0][0].weight
    assert torch.equal(first[:, :3], vgg_features["0.weight"]) and not first[:, 3:].any()  # coordinate maps start at 0
    last_conv, last_bn = layers[-1][0], layers[-1][1]
    assert torch.equal(last_conv.weight, vgg_features["40.weight"])
    assert torch.equal(last_bn.running_var, vgg_features["41.running_var"])


def test_vgg_initialisation_refusals(vgg_features, tmp_path):
    from core.models.networks.vgg_init import init_encoder_from_vgg, load_vgg16_bn_state

    with pytest.raises(ValueError, match="width 64 only"):
        init_encoder_from_vgg(create_model("segnet", width=16), vgg_features)
    with pytest.raises(ValueError, match="only the VGG-encoder networks"):
        init_encoder_from_vgg(create_model("unet", width=4), vgg_features)
    with pytest.raises(FileNotFoundError, match="no such VGG-16-BN weights file"):
        load_vgg16_bn_state(tmp_path / "absent.pth")
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "partial.pth")
    with pytest.raises(ValueError, match="not VGG-16-BN weights"):
        load_vgg16_bn_state(tmp_path / "partial.pth")
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a readable VGG-16-BN state dict"):
        load_vgg16_bn_state(tmp_path / "junk.pth")
    with pytest.raises(ValueError, match="local VGG-16-BN weights file"):
        load_vgg16_bn_state()
