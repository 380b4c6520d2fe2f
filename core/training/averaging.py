"""Weight averaging: one network from several checkpoints of the same network.

Runs trained from one starting model (other seeds, other options) stay close in weight space, and
the average of their weights is steadier than any one of them ("model soup"); the average of a run
and the model it started from keeps part of what the run learned and part of what it lost
(WiSE-FT). Every floating-point tensor is averaged, batch-norm statistics included; integer
tensors (batch-norm's step counters) are the first file's.

The result is a checkpoint like any other: the first file's configuration, without what described
that file alone (``ONE_FILE_INFO_KEYS``: its name, figures and training history), and with ``info``:
- ``averaged_from``: each file's name, its share of the average and its run's seed;
- ``train_groups`` and ``trained_before``: the union of the files' (what any of them trained on, in
  its own run and before it);
- ``val_groups``: the first file's held-out groups that none of the files trained on, so held-out
  figures of the average never score a photo one of its parts learned from.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import torch

from core.errors import CheckpointError
from core.models.checkpoint import ModelConfig, inheritable_info, load_model, save_model
from core.training.training_mix import trained_groups


def average_checkpoints(paths: Sequence[str | Path],
                        shares: Sequence[float] | None = None) -> tuple[torch.nn.Module, ModelConfig]:
    """The weighted average of two or more checkpoints of one network (equal shares by default).

    ``shares`` are relative (1, 1, 2 gives the third file half the weight). ``CheckpointError``
    naming the file when one cannot be loaded or is not the same network as the first
    (architecture, width, classes, preprocessing); ``ValueError`` for fewer than two files or
    shares that are negative, not finite, all zero or not one per file.
    """
    paths = [Path(path) for path in paths]
    if len(paths) < 2:
        raise ValueError("averaging needs two model files or more")
    shares = [1.0] * len(paths) if shares is None else [float(share) for share in shares]
    if len(shares) != len(paths):
        raise ValueError(f"{len(shares)} shares for {len(paths)} model files")
    if any(not math.isfinite(share) or share < 0 for share in shares) or sum(shares) <= 0:
        raise ValueError("shares must be finite, zero or more, and not all zero")
    total = sum(shares)
    model, config = load_model(paths[0])
    state = model.state_dict()
    sums = {name: tensor.double() * shares[0] for name, tensor in state.items() if tensor.is_floating_point()}
    infos = [config.info]
    for path, share in zip(paths[1:], shares[1:]):
        other, other_config = load_model(path)
        difference = _network_difference(config, other_config)
        if difference:
            raise CheckpointError(path, f"not the same network as {paths[0].name} ({difference})")
        for name, tensor in other.state_dict().items():
            if name in sums:
                sums[name] += tensor.double() * share
        infos.append(other_config.info)
    model.load_state_dict({name: (sums[name] / total).to(tensor.dtype) if name in sums else tensor
                           for name, tensor in state.items()})
    return model, replace(config, info=_averaged_info(paths, [share / total for share in shares], infos))


def save_average(out: str | Path, paths: Sequence[str | Path], shares: Sequence[float] | None = None) -> ModelConfig:
    """Average ``paths`` (see ``average_checkpoints``) and write the result to ``out``, atomically."""
    model, config = average_checkpoints(paths, shares)
    save_model(out, model, config)
    return config


def _network_difference(first: ModelConfig, other: ModelConfig) -> str:
    """What makes two configurations different networks ('' when they are the same one)."""
    for label, mine, theirs in (("architecture", first.arch, other.arch), ("width", first.width, other.width),
                                ("classes", first.num_classes, other.num_classes),
                                ("preprocessing", first.preprocess.to_dict(), other.preprocess.to_dict())):
        if mine != theirs:
            return f"{label} {theirs} against {mine}"
    return ""


def _averaged_info(paths: list[Path], shares: list[float], infos: list[dict]) -> dict:
    trained = set().union(*(trained_groups(info) for info in infos))
    own = set().union(*(info.get("train_groups", []) for info in infos))
    info = {key: value for key, value in inheritable_info(infos[0]).items() if key != "trained_before"}
    info["train_groups"] = sorted(own)
    if trained - own:  # the union of the files' trained_before, not the first file's
        info["trained_before"] = sorted(trained - own)
    info["val_groups"] = [group for group in infos[0].get("val_groups", []) if group not in trained]
    info["averaged_from"] = [{"file": path.name, "share": round(share, 6),
                              "seed": (source.get("train_config") or {}).get("seed")}
                             for path, share, source in zip(paths, shares, infos)]
    return info
