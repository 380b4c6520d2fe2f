"""Checkpoints: safetensors weights with the model's configuration in the file's metadata.

A checkpoint is one ``.safetensors`` file. Its metadata key ``maskingnet`` holds a JSON
``ModelConfig`` (architecture, width, classes, preprocessing, and ``info``: training data,
recipe, metrics), so loading never guesses. Pickles are never loaded. A checkpoint may also hold
a studio outline expert (``core.models.outline_expert``) and a context network
(``core.models.context_network``): networks of the same architecture and width, their tensors prefixed
``outline_expert.`` and ``context_network.``, their rules in the configuration.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from core.errors import CheckpointError, printable
from core.io.atomic import atomic_path
from core.io.records import Fields, RecordError, parse_json
from core.models.context_network import TENSOR_PREFIX as CONTEXT_PREFIX
from core.models.context_network import ContextNetworkRule
from core.models.networks import MODEL_NAMES, UnknownModelError, create_model
from core.models.outline_expert import TENSOR_PREFIX as EXPERT_PREFIX
from core.models.outline_expert import OutlineExpertRule
from core.models.preprocess import Preprocess

FORMAT_VERSION = "1"
_METADATA_KEY = "maskingnet"
_MAX_HEADER_BYTES = 100_000_000
MAX_WORKING_SIZE = 4096  # larger working sizes would need gigabytes per photo
MAX_WIDTH = 512  # channels of the first stage (the study's networks: 64)
# width x working size^2: the first stage's activations per photo (float32: 4 bytes each). The
# study's width 64 fits up to a working size of 2048, width 16 up to 4096; beyond, one photo
# needs many gigabytes and the model is refused before anything is allocated.
MAX_WIDTH_TIMES_PIXELS = 64 * 2048 * 2048


# info that names or measures one file alone: a model trained or averaged from it does not inherit it
ONE_FILE_INFO_KEYS = ("name", "shipped", "metrics", "figures", "val_dice", "history", "averaged_from",
                      "context_network_stages")


def inheritable_info(info: dict[str, Any]) -> dict[str, Any]:
    """``info`` without what described that file alone (``ONE_FILE_INFO_KEYS``): what a model
    trained from it keeps (recipe, data groups, lineage)."""
    return {key: value for key, value in info.items() if key not in ONE_FILE_INFO_KEYS}


@dataclass
class ModelConfig:
    """Everything needed to rebuild a network and feed it. ``outline_expert`` and ``context_network``: the
    rules of the checkpoint's studio outline expert and context network, None when it holds none
    (``save_model`` keeps a rule only with its network)."""

    arch: str
    width: int
    num_classes: int = 2
    preprocess: Preprocess = field(default_factory=Preprocess)
    info: dict[str, Any] = field(default_factory=dict)
    outline_expert: OutlineExpertRule | None = None
    context_network: ContextNetworkRule | None = None

    def to_json(self) -> str:
        fields = {
            "format": FORMAT_VERSION,
            "arch": self.arch,
            "width": self.width,
            "num_classes": self.num_classes,
            "preprocess": self.preprocess.to_dict(),
            "info": self.info,
        }
        if self.outline_expert is not None:
            fields["outline_expert"] = self.outline_expert.to_dict()
        if self.context_network is not None:
            fields["context_network"] = self.context_network.to_dict()
        return json.dumps(fields)

    @classmethod
    def from_json(cls, text: str, path: str | Path = "<configuration>") -> ModelConfig:
        """Parse and check a configuration; ``RecordError`` naming ``path`` (one line) for
        anything that is not a usable MaskingNet configuration."""
        fields = Fields(parse_json(path, text), path)
        arch = fields.str("arch", max_length=64)
        width = fields.int("width")
        num_classes = fields.int("num_classes", 2)
        if num_classes != 2:
            raise fields.error(f"num_classes must be 2 (car and background), got {num_classes}")
        try:
            preprocess = Preprocess.from_dict(fields.dict("preprocess"))
        except (KeyError, TypeError, ValueError) as error:
            raise fields.error(f"preprocess: {printable(error)}") from None
        info = fields.dict("info", {})
        expert = fields.dict("outline_expert", None)
        try:
            outline_expert = None if expert is None else OutlineExpertRule.from_dict(expert)
        except (TypeError, ValueError) as error:
            raise fields.error(f"outline_expert: {printable(error)}") from None
        context = fields.dict("context_network", None)
        try:
            context_network = None if context is None else ContextNetworkRule.from_dict(context)
        except (TypeError, ValueError) as error:
            raise fields.error(f"context_network: {printable(error)}") from None
        Fields(info, path, "info").str("name", "", max_length=256)
        if not 2 <= width <= MAX_WIDTH:
            raise fields.error(f"width must be an even number from 2 to {MAX_WIDTH}, got {width}")
        if preprocess.size <= MAX_WORKING_SIZE and width * preprocess.size**2 > MAX_WIDTH_TIMES_PIXELS:
            raise fields.error(f"width {width} at working size {preprocess.size} needs more memory per photo than "
                               f"allowed (width x size^2 at most {MAX_WIDTH_TIMES_PIXELS}, e.g. width 64 at 2048)")
        return cls(arch=arch, width=width, num_classes=num_classes, preprocess=preprocess, info=info,
                   outline_expert=outline_expert, context_network=context_network)

    def build(self) -> nn.Module:
        """A randomly initialised network of this configuration."""
        return create_model(self.arch, width=self.width, num_classes=self.num_classes)


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Write tensors + string metadata as safetensors, atomically."""
    from safetensors.torch import save_file

    tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in tensors.items()}
    with atomic_path(path) as temp_path:
        save_file(tensors, str(temp_path), metadata=metadata)


def read_safetensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read a safetensors file, refusing anything else with a ``CheckpointError``."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
            if len(head) < 8:
                raise CheckpointError(path, "not a safetensors model file (too short)")
            (header_length,) = struct.unpack("<Q", head)
            if header_length > _MAX_HEADER_BYTES:
                raise CheckpointError(path, "not a safetensors model file (bad header)")
            header = handle.read(header_length)
        if not header.lstrip().startswith(b"{"):
            raise CheckpointError(path, "not a safetensors model file")
        if len(header) < header_length:
            raise CheckpointError(path, "damaged safetensors file (it ends inside its header)")
        metadata = json.loads(header).get("__metadata__") or {}
    except CheckpointError:
        raise
    except FileNotFoundError:
        raise CheckpointError(path, "no such model file") from None
    except IsADirectoryError:
        raise CheckpointError(path, "is a folder, not a model file") from None
    except RecursionError:
        raise CheckpointError(path, "not a safetensors model file (its header is nested too deeply)") from None
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise CheckpointError(path, f"not a safetensors model file ({printable(error)})") from None
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(path))
    except Exception as error:  # safetensors raises its own error types
        raise CheckpointError(path, f"damaged safetensors file ({error})") from None
    return tensors, metadata


def save_model(path: str | Path, model: nn.Module, config: ModelConfig, outline_expert: nn.Module | None = None,
               context_network: nn.Module | None = None) -> None:
    """Save the network's weights and configuration as one safetensors file, atomically. With
    ``outline_expert`` or ``context_network`` (networks like ``model``) the file holds them too, under
    ``config``'s rule of that name (``ValueError`` without one); without one its rule is left out: a
    network trained or averaged from a checkpoint with an expert does not claim one."""
    tensors = dict(model.state_dict())
    for key, prefix, network in (("outline_expert", EXPERT_PREFIX, outline_expert),
                                 ("context_network", CONTEXT_PREFIX, context_network)):
        if network is None:
            config = replace(config, **{key: None})
        elif getattr(config, key) is None:
            raise ValueError(f"an {key.replace('_', ' ')} needs its rule in config.{key}")
        else:
            tensors.update({prefix + name: tensor for name, tensor in network.state_dict().items()})
    save_tensors(path, tensors, {_METADATA_KEY: config.to_json()})


def read_config(path: str | Path) -> ModelConfig:
    """Only the configuration of a checkpoint (cheap: reads the header)."""
    _, metadata = read_safetensors(path)
    return _config_from_metadata(path, metadata)


def _config_from_metadata(path: str | Path, metadata: dict[str, str]) -> ModelConfig:
    if _METADATA_KEY not in metadata:
        raise CheckpointError(path, "a safetensors file without a MaskingNet configuration")
    try:
        config = ModelConfig.from_json(metadata[_METADATA_KEY], path)
    except RecordError as error:
        raise CheckpointError(path, f"its configuration is unreadable ({error.problem})") from None
    if config.arch not in MODEL_NAMES:
        raise CheckpointError(
            path, f"unknown architecture {config.arch!r}; valid names: {', '.join(MODEL_NAMES)}"
        )
    if config.preprocess.size > MAX_WORKING_SIZE:
        raise CheckpointError(path, f"working size {config.preprocess.size} is above the limit of {MAX_WORKING_SIZE}")
    return config


def load_model(path: str | Path) -> tuple[nn.Module, ModelConfig]:
    """Rebuild the network of a checkpoint on the CPU, in eval mode, with its weights.

    Missing, extra or wrongly shaped tensors, and NaN or infinite weights, raise
    ``CheckpointError`` naming them. The shapes are checked on a weightless (meta-device)
    network first, so a configuration that names a huge network allocates nothing. A studio
    outline expert or a context network in the file is checked too, but not built (``load_networks``).
    """
    networks = _load(path, with_helpers=False)
    return networks.model, networks.config


class Networks(NamedTuple):
    """A checkpoint's networks, built: the main one, its studio outline expert and its context network
    (None when the file holds none), and its configuration."""

    model: nn.Module
    outline_expert: nn.Module | None
    context_network: nn.Module | None
    config: ModelConfig


def load_networks(path: str | Path) -> Networks:
    """``load_model``, and the checkpoint's studio outline expert and context network, built the same way."""
    return _load(path, with_helpers=True)


def _load(path: str | Path, *, with_helpers: bool) -> Networks:
    tensors, metadata = read_safetensors(path)
    config = _config_from_metadata(path, metadata)
    try:
        with torch.device("meta"):
            expected = config.build().state_dict()
    except (UnknownModelError, ValueError) as error:
        raise CheckpointError(path, str(error)) from None
    held = [prefix for prefix, rule in ((EXPERT_PREFIX, config.outline_expert), (CONTEXT_PREFIX, config.context_network))
            if rule is not None]  # the helper networks the file claims, each with every tensor of the main one
    main = dict(expected)
    for prefix in held:
        expected.update({prefix + name: tensor for name, tensor in main.items()})
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    wrong = sorted(
        name for name in set(expected) & set(tensors) if tuple(expected[name].shape) != tuple(tensors[name].shape)
    )
    problems = []
    for label, names in (("missing", missing), ("unexpected", extra), ("wrongly shaped", wrong)):
        if names:
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            problems.append(f"{len(names)} {label} tensor(s): {shown}")
    if problems:
        raise CheckpointError(path, f"does not fit a {config.arch} of width {config.width}: " + "; ".join(problems))
    broken = sorted(name for name, tensor in tensors.items() if tensor.is_floating_point() and not torch.isfinite(tensor).all())
    if broken:
        shown = ", ".join(broken[:3]) + (f" and {len(broken) - 3} more" if len(broken) > 3 else "")
        raise CheckpointError(path, f"{len(broken)} tensor(s) hold NaN or infinite values: {shown}")
    built: dict[str, nn.Module | None] = {EXPERT_PREFIX: None, CONTEXT_PREFIX: None}
    for prefix in held:
        own = {name[len(prefix):]: tensors.pop(name) for name in list(tensors) if name.startswith(prefix)}
        if with_helpers:
            built[prefix] = _built(config, own)
    return Networks(_built(config, tensors), built[EXPERT_PREFIX], built[CONTEXT_PREFIX], config)


def _built(config: ModelConfig, tensors: dict[str, torch.Tensor]) -> nn.Module:
    network = config.build()
    network.load_state_dict(tensors)
    return network.eval()


def save_optimizer(path: str | Path, optimizer: torch.optim.Optimizer, progress: dict[str, Any]) -> None:
    """Save an optimizer's state and the training progress (JSON) as safetensors, no pickle."""
    state = optimizer.state_dict()
    tensors = {}
    for param_index, param_state in state["state"].items():
        for key, value in param_state.items():
            tensor = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"state.{param_index}.{key}"] = tensor
    metadata = {"param_groups": json.dumps(state["param_groups"]), "progress": json.dumps(progress)}
    save_tensors(path, tensors, metadata)


def load_optimizer(path: str | Path, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Restore an optimizer saved by ``save_optimizer``; returns the saved progress."""
    tensors, metadata = read_safetensors(path)
    try:
        groups = json.loads(metadata["param_groups"])
        progress = json.loads(metadata["progress"])
        state: dict[int, dict[str, torch.Tensor]] = {}
        for name, tensor in tensors.items():
            prefix, index, key = name.split(".", 2)
            if prefix != "state":
                raise ValueError(f"unexpected tensor {name!r}")
            state.setdefault(int(index), {})[key] = tensor
    except (KeyError, ValueError) as error:
        raise CheckpointError(path, f"not a training state file ({error})") from None
    if not isinstance(progress, dict) or not isinstance(groups, list):
        raise CheckpointError(path, "not a training state file (unexpected contents)")
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(path, f"does not fit this model's optimizer ({error})") from None
    return progress
