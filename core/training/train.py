"""The training loop: a Qt-free generator of progress events, resumable and cancellable.

``train(...)`` yields ``TrainEvent``s; the caller stops it between steps by returning True
from ``should_stop`` (or by closing the generator). Files in ``out_dir``:

- ``last.safetensors``: the latest weights (every epoch and every ``save_every_s`` seconds)
- ``best.safetensors``: the weights with the best validation Dice so far
- ``state.safetensors``: optimizer state + progress (epoch, step, history), for resuming
- ``history.json``: one record per finished epoch (loss, validation Dice, lr, time)
- ``epoch-NN.safetensors`` (with ``keep_epochs``): the weights at the end of epoch NN, for judging
  every epoch of a long run, not only the one the validation mean picks
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.errors import CheckpointError, MaskingNetError, printable
from core.io.atomic import write_bytes_atomic
from core.io.records import Fields, RecordError, hold_lock
from core.models.checkpoint import (
    MAX_WIDTH,
    MAX_WORKING_SIZE,
    ModelConfig,
    inheritable_info,
    load_model,
    load_optimizer,
    read_config,
    save_model,
    save_optimizer,
)
from core.models.device import autocast, autocast_dtype, describe_device, select_device
from core.models.preprocess import Preprocess, upsample_probability
from core.training.augment import AugmentConfig, augment
from core.training.data import CachedSamples, Sample, cache_samples
from core.training.metrics import dice
from core.training.training_mix import lineage_split

LAST, BEST, STATE, HISTORY = "last.safetensors", "best.safetensors", "state.safetensors", "history.json"
RUN_LOCK = ".maskingnet-train.lock"  # held by the training writing into a run folder
MAX_NOTES = 10  # left-out photos named one by one; the rest are counted


@dataclass
class TrainConfig:
    """A training recipe. Defaults follow the study (Adam, lr 1e-3 halved every 40 epochs,
    batch 4) at a CPU-friendly width and working size."""

    arch: str = "maskingnet"
    width: int = 16
    size: int = 256
    epochs: int = 30
    batch_size: int = 4
    lr: float = 1e-3
    lr_halve_every: int = 40
    lr_milestones: list[int] | None = None  # if set: halve the lr after each of these epochs instead
    dice_weight: float = 0.5  # loss = cross-entropy + dice_weight * (1 - soft Dice)
    correction_weight: float = 4.0  # extra loss weight on pixels marked in a sample's weight map
    augment: bool = True
    zoom_out: float = 0.0  # share of training photos shown shrunk in the frame (augment.AugmentConfig.zoom_out)
    # share of those whose frame is another training photo's background, taught as background (else
    # a reflection, unknown); that photo's car, grown by BACKDROP_CAR_MARGIN, stays unknown
    zoom_out_backdrop: float = 0.0
    zoom_in: float = 0.0  # share of training photos magnified so the car crosses the frame's edge (AugmentConfig.zoom_in)
    # share of training photos shown blurred, noisy, low-resolution or JPEG-blocky (augment.degrade);
    # a mix source's own ``degrade`` overrides it
    degrade: float = 0.0
    # share of training photos whose background is streaked as by a camera following a moving car, the
    # car sharp (augment.panning_blur; for exact masks); a mix source's own ``panning`` overrides it
    panning: float = 0.0
    val_fraction: float = 0.2
    seed: int = 0
    device: str = "auto"
    mixed_precision: bool = True
    init: str | None = None  # a checkpoint to start from (fine-tuning)
    widen_to: int | None = None  # with init: its network widened to this width first, computing the same
    # with widen_to: the added channels start random and only they train; the old network's weights
    # and batch-norm statistics stay as they were (networks.fresh_widen)
    widen_fresh: bool = False
    # with widen_fresh: the old entries' learning rate (their every step scaled to it); None: they stay
    old_entries_lr: float | None = None
    save_every_s: float = 300.0
    keep_epochs: bool = False  # also keep each epoch's weights as epoch-NN.safetensors
    max_steps_per_epoch: int | None = None  # for quick runs and tests
    vgg_init: str | None = None  # VGG-16-BN weights for a fresh width-64 encoder: a file, or "torchvision"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Ranges of the recipe's numbers (fields not named here: any value of the field's type).
_RECIPE_RANGES: dict[str, tuple[float | None, float | None]] = {
    "width": (2, MAX_WIDTH), "size": (32, MAX_WORKING_SIZE), "epochs": (1, None), "batch_size": (1, None),
    "lr": (0.0, 10.0), "lr_halve_every": (1, None), "dice_weight": (0.0, None), "correction_weight": (0.0, None),
    "zoom_out": (0.0, 1.0), "zoom_out_backdrop": (0.0, 1.0), "zoom_in": (0.0, 1.0), "degrade": (0.0, 1.0), "panning": (0.0, 1.0),
    "val_fraction": (0.0, 0.9), "seed": (0, None),
    "save_every_s": (0.0, None), "max_steps_per_epoch": (1, None), "widen_to": (2, MAX_WIDTH),
    "old_entries_lr": (0.0, 10.0),
}


_NULLABLE_WHOLE_NUMBERS = {"max_steps_per_epoch", "widen_to"}  # recipe fields that are None or a whole number
_NULLABLE_FLOATS = {"old_entries_lr"}  # recipe fields that are None or a number


def epoch_file(epoch: int) -> str:
    """The name ``keep_epochs`` gives the weights at the end of ``epoch`` (1-based)."""
    return f"epoch-{epoch:02d}.safetensors"


def recipe_from_json(data: Any, path: str | Path) -> dict[str, Any]:
    """The fields of a recipe file (a JSON object of ``TrainConfig`` fields), each checked
    against the field's type and range; ``RecordError`` (one line naming ``path``) otherwise."""
    checked = Fields(data, path)
    known = {f.name: f for f in fields(TrainConfig)}
    unknown = sorted(set(checked.data) - set(known))
    if unknown:
        raise checked.error(f"unknown recipe field(s) {', '.join(printable(name) for name in unknown)}")
    defaults = TrainConfig()
    values: dict[str, Any] = {}
    for name in checked.data:
        default = getattr(defaults, name)
        nullable = default is None
        missing = None if nullable else Fields.REQUIRED
        low, high = _RECIPE_RANGES.get(name, (None, None))
        if name == "lr_milestones":
            values[name] = checked.list(name, None, of=int)
            if values[name] and min(values[name]) < 0:
                raise checked.error(f"the field {name!r} should hold epochs (whole numbers >= 0)")
        elif isinstance(default, bool):
            values[name] = checked.bool(name, missing)
        elif isinstance(default, int) or name in _NULLABLE_WHOLE_NUMBERS:
            values[name] = checked.int(name, missing, low=low, high=high)
        elif isinstance(default, float) or name in _NULLABLE_FLOATS:
            values[name] = checked.float(name, missing, low=low, high=high)
        else:
            values[name] = checked.str(name, missing)
    return values


def checked_progress(data: Any, path: str | Path) -> dict[str, Any]:
    """The training progress saved in a run folder's state file, its types checked;
    ``CheckpointError`` (one line naming the file) when it cannot be resumed from."""
    try:
        fields = Fields(data, path)
        return {
            **fields.data,
            "epoch": fields.int("epoch", 0, low=0), "step": fields.int("step", 0, low=0),
            "best_dice": fields.float("best_dice", None, low=0.0, high=1.0),
            "history": fields.list("history", [], of=dict), "train_seconds": fields.float("train_seconds", 0.0, low=0.0),
            "epoch_losses": fields.list("epoch_losses", [], of=(int, float)),
            "skipped_steps": fields.int("skipped_steps", 0, low=0),
        }
    except RecordError as error:
        raise CheckpointError(path, f"the saved training state cannot be resumed ({error.problem})") from None


@dataclass
class TrainEvent:
    """One report from the loop. ``kind``: 'status', 'step', 'epoch', 'stopped' or 'done'."""

    kind: str
    epoch: int = 0
    epochs: int = 0
    step: int = 0
    steps_per_epoch: int = 0
    loss: float = float("nan")
    lr: float = 0.0
    val_dice: float | None = None
    best_dice: float | None = None
    elapsed_s: float = 0.0
    eta_s: float | None = None
    message: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)


def segmentation_loss(
    logits: torch.Tensor, target: torch.Tensor, pixel_weight: torch.Tensor | None, dice_weight: float
) -> torch.Tensor:
    """Cross-entropy against soft targets (share of car per pixel) plus a soft-Dice term.

    ``pixel_weight`` scales each pixel's cross-entropy; pixels of weight 0 (unknown labels) are
    left out of the Dice term too.
    """
    logits = logits.float()
    log_probs = F.log_softmax(logits, dim=1)
    cross_entropy = -(target * log_probs[:, 1] + (1 - target) * log_probs[:, 0])
    car = log_probs[:, 1].exp()
    if pixel_weight is not None:
        cross_entropy = (cross_entropy * pixel_weight).sum() / pixel_weight.sum().clamp_min(1.0)
        known = (pixel_weight > 0).float()
        car, target = car * known, target * known
    else:
        cross_entropy = cross_entropy.mean()
    if dice_weight <= 0:
        return cross_entropy
    intersection = (car * target).sum(dim=(1, 2))
    total = car.sum(dim=(1, 2)) + target.sum(dim=(1, 2))
    soft_dice = (2 * intersection + 1.0) / (total + 1.0)
    return cross_entropy + dice_weight * (1 - soft_dice).mean()


def finite_step(model: nn.Module, loss: torch.Tensor) -> bool:
    """Whether ``loss`` and every gradient of ``model`` are finite (else the step is skipped, as
    mixed-precision training does: an inf reaching Adam's moments would ruin every later step)."""
    if not torch.isfinite(loss):
        return False
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    return bool(torch.isfinite(torch.nn.utils.get_total_norm(grads)))


def learning_rate(config: TrainConfig, epoch: int) -> float:
    """The lr of 0-based ``epoch``: halved every ``lr_halve_every`` epochs, or after each milestone."""
    if config.lr_milestones:
        return config.lr * 0.5 ** sum(epoch >= milestone for milestone in config.lr_milestones)
    return config.lr * 0.5 ** (epoch // max(1, config.lr_halve_every))


@torch.no_grad()
def predict_cached(
    model: nn.Module, cached: CachedSamples, preprocess: Preprocess, device: torch.device,
    dtype: torch.dtype | None, batch_size: int = 8,
) -> Iterator[np.ndarray]:
    """Car probabilities (S, S) float32 for every cached working-size image, in order."""
    model.eval()
    for start in range(0, len(cached), batch_size):
        batch = preprocess.to_tensor(cached.images[start : start + batch_size]).to(device)
        with autocast(device, dtype):
            logits = model(batch)
        probabilities = torch.softmax(logits.float(), dim=1)[:, 1].cpu().numpy()
        yield from probabilities


def evaluate_cached(
    model: nn.Module, cached: CachedSamples, preprocess: Preprocess, device: torch.device,
    dtype: torch.dtype | None,
) -> list[float]:
    """Per-image Dice at each mask's own resolution (probabilities upsampled, then cut at 0.5),
    over the trusted pixels only where a sample has a confidence map."""
    scores = []
    predictions = predict_cached(model, cached, preprocess, device, dtype)
    for probability, truth, trusted in zip(predictions, cached.full_masks, cached.full_confidences):
        full = upsample_probability(probability, truth.shape[1], truth.shape[0]) >= 128
        scores.append(dice(full[trusted], truth[trusted]) if trusted is not None else dice(full, truth))
    return scores


@torch.no_grad()
def training_objective(
    model: nn.Module, cached: CachedSamples, config: TrainConfig, preprocess: Preprocess, device: torch.device,
    dtype: torch.dtype | None,
) -> float:
    """The mean loss training minimises (``segmentation_loss`` with each sample's trust and emphasis,
    ``config``'s weights) over every cached sample as it is, unaugmented, the model in eval mode."""
    model.eval()
    plain = replace(config, augment=False)
    rng = np.random.default_rng(0)
    losses = []
    for start in range(0, len(cached), config.batch_size):
        indices = range(start, min(start + config.batch_size, len(cached)))
        images, targets, weights = _batch_tensors(cached, indices, rng, plain, preprocess)
        with autocast(device, dtype):
            logits = model(images.to(device))
        loss = segmentation_loss(logits.float(), targets.to(device), weights.to(device) if weights is not None else None,
                                 config.dice_weight)
        losses.append(loss.item() * len(indices))
    return sum(losses) / len(cached) if len(cached) else float("nan")


def dice_by_source(samples: Sequence[Sample], scores: Sequence[float]) -> dict[str, float]:
    """Mean Dice per ``Sample.source`` (the key "" for samples of no named source)."""
    by_source: dict[str, list[float]] = {}
    for sample, score in zip(samples, scores):
        by_source.setdefault(sample.source, []).append(score)
    return {source: float(np.mean(values)) for source, values in sorted(by_source.items())}


BACKDROP_CAR_MARGIN = 1 / 64  # of the working size: a backdrop's car grown by this much is unknown


def _batch_tensors(
    cached: CachedSamples, indices: Sequence[int], rng: np.random.Generator, config: TrainConfig,
    preprocess: Preprocess,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(images, targets, pixel weights or None): weight = confidence x (1 + correction_weight x corrected)."""
    images, targets, weights = [], [], []
    zoom_out = config.augment and config.zoom_out > 0  # needs the maps: the frame around a shrunk photo is unknown
    emphases, trusts = [cached.emphasis(i) for i in indices], [cached.trust(i) for i in indices]
    any_weight = zoom_out or any(e is not None or t is not None for e, t in zip(emphases, trusts))
    shares = [(cached.augment_share(i, "degrade", config.degrade), cached.augment_share(i, "panning", config.panning))
              for i in indices]
    changes = {share: AugmentConfig(zoom_out=config.zoom_out, zoom_in=config.zoom_in, degrade=share[0], panning=share[1])
               for share in set(shares)}
    for index, corrected, confidence, share in zip(indices, emphases, trusts, shares):
        image, target = cached.images[index], cached.targets[index]
        maps = None
        if any_weight:  # the maps travel as one array through the augmentation; the third is the photo's own area
            maps = np.stack([corrected if corrected is not None else np.zeros_like(target),
                             confidence if confidence is not None else np.ones_like(target),
                             np.ones_like(target)], axis=-1)
        if config.augment and cached.augments(index):
            image, target, maps = augment(image, target, maps, rng, changes[share])
            outside = maps[..., 2] < 0.5 if maps is not None else None
            if outside is not None and outside.any() and config.zoom_out_backdrop > 0 \
                    and rng.random() < config.zoom_out_backdrop:
                image, target, maps = _on_backdrop(image, target, maps, outside, cached, index, rng)
        images.append(image)
        targets.append(np.ascontiguousarray(target))
        if maps is not None:
            weights.append(np.ascontiguousarray(maps[..., 1] * (1.0 + config.correction_weight * maps[..., 0])))
    pixel_weight = torch.from_numpy(np.stack(weights).astype(np.float32)) if any_weight else None
    return preprocess.to_tensor(images), torch.from_numpy(np.stack(targets)), pixel_weight


def _on_backdrop(image: np.ndarray, target: np.ndarray, maps: np.ndarray, outside: np.ndarray, cached: CachedSamples,
                 index: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Photo ``index``, shrunk, with its frame (``outside``) taken from another cached photo: that photo's
    background is taught as background (at its confidence), its car and a margin around it are unknown."""
    other = (index + 1 + int(rng.integers(max(1, len(cached.images) - 1)))) % len(cached.images)
    backdrop, backdrop_car = cached.images[other], cached.targets[other]
    backdrop_trust = cached.confidences[other] if cached.confidences[other] is not None else np.ones_like(backdrop_car)
    if rng.random() < 0.5:
        backdrop, backdrop_car, backdrop_trust = backdrop[:, ::-1], backdrop_car[:, ::-1], backdrop_trust[:, ::-1]
    margin = max(1, round(BACKDROP_CAR_MARGIN * backdrop_car.shape[0]))
    grown = cv2.dilate((backdrop_car > 0.02).astype(np.uint8), np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)) > 0
    image, target, maps = image.copy(), target.copy(), maps.copy()
    image[outside] = backdrop[outside]
    target[outside] = 0.0
    maps[..., 0][outside] = 0.0
    maps[..., 1][outside] = np.where(grown, 0.0, backdrop_trust)[outside]
    return image, target, maps


def train(
    config: TrainConfig,
    train_samples: Sequence[Sample],
    val_samples: Sequence[Sample],
    out_dir: str | Path,
    *,
    should_stop: Callable[[], bool] = lambda: False,
    info: dict[str, Any] | None = None,
) -> Iterator[TrainEvent]:
    """Train (or fine-tune, with ``config.init``) and yield progress; resumes from ``out_dir``.

    ``info`` is merged into the saved checkpoints' configuration (e.g. a model name). The run
    folder is locked while the generator runs: a second training into it (this process or
    another) raises ``MaskingNetError`` instead of overwriting the first one's files.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not train_samples:
        raise ValueError("no training photos with masks were given")
    with hold_lock(out_dir / RUN_LOCK) as held:
        if not held:
            raise MaskingNetError(f"{printable(out_dir)}: another training is using this run folder; wait for it "
                                  "to finish or choose another folder")
        yield from _train(config, train_samples, val_samples, out_dir, should_stop=should_stop, info=info)


def _train(
    config: TrainConfig, train_samples: Sequence[Sample], val_samples: Sequence[Sample], out_dir: Path, *,
    should_stop: Callable[[], bool], info: dict[str, Any] | None,
) -> Iterator[TrainEvent]:
    device = select_device(config.device)
    dtype = autocast_dtype(device) if config.mixed_precision else None
    started = time.monotonic()

    state_path = out_dir / STATE
    resuming = (out_dir / LAST).exists()  # a run folder: resume it rather than overwrite it
    if config.widen_to:  # the width this run trains at, from the start or when it resumes
        config = replace(config, width=config.widen_to)
    notes = []
    if resuming:
        model, model_config = load_model(out_dir / LAST)
        if config.init and not config.widen_to:  # a fine-tune takes its network from --init, as the folder holds it
            config = replace(config, arch=model_config.arch, width=model_config.width)
        if (model_config.arch, model_config.width, model_config.preprocess.size) != (
            config.arch, config.width, config.size,
        ):
            notes.append(f"the run folder holds a {model_config.arch} of width {model_config.width} at size "
                         f"{model_config.preprocess.size}, which is what continues")
            config = replace(
                config, arch=model_config.arch, width=model_config.width, size=model_config.preprocess.size
            )
        if config.init:
            notes.append(f"--init {config.init} is ignored: the run folder already has weights")
    elif config.init:
        model, model_config = load_model(config.init)
        # the new weights are not --init's: they keep its recipe and lineage, not its name or figures
        model_config = replace(model_config, info=inheritable_info(model_config.info))
        if config.widen_to and config.widen_to != model_config.width:  # a narrower widen_to: ValueError
            widened = f"the network of {config.init} widened from width {model_config.width} to {config.widen_to}"
            if config.widen_fresh:
                from core.models.networks.fresh_widen import fresh_widen

                model = fresh_widen(model, config.widen_to, seed=config.seed)
                if config.old_entries_lr is None:
                    widened += " with fresh channels; only they train"
                else:
                    widened += f" with fresh channels; the old ones train at lr {config.old_entries_lr:g}"
            else:
                from core.models.networks.widen import widen_network

                model = widen_network(model, config.widen_to, seed=config.seed)
            notes.append(widened)
            model_config = replace(model_config, width=config.widen_to)
        config = replace(config, arch=model_config.arch, width=model_config.width)
        model_config = replace(model_config, preprocess=replace(model_config.preprocess, size=config.size))
    else:
        model_config = ModelConfig(arch=config.arch, width=config.width, preprocess=Preprocess(size=config.size))
        with torch.random.fork_rng(devices=[]):  # the seed fixes the initial weights too
            torch.manual_seed(config.seed)
            model = model_config.build()
        if config.vgg_init:
            from core.models.networks.vgg_init import init_encoder_from_vgg, load_vgg16_bn_state

            source = config.vgg_init
            vgg = load_vgg16_bn_state(download=True) if source == "torchvision" else load_vgg16_bn_state(source)
            notes.append(f"encoder initialised from VGG-16-BN ({init_encoder_from_vgg(model, vgg)} layers)")
    preprocess = model_config.preprocess
    model = model.to(device).to(memory_format=torch.channels_last)
    # fresh channels added to --init's network: its old entries stay, resumed or not (else all train)
    init_width = read_config(config.init).width if config.widen_fresh and config.init else None
    old_frozen = init_width is not None and init_width < config.width
    slow_old = None  # with old_entries_lr: scales each step's change to the old entries
    if old_frozen:
        from core.models.networks.fresh_widen import SlowOldEntries, freeze_old_entries, old_entry_masks

        if config.old_entries_lr is None:
            freeze_old_entries(model, old_entry_masks(model, init_width))
        else:
            slow_old = SlowOldEntries(model, old_entry_masks(model, init_width), config.old_entries_lr / config.lr)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    progress: dict[str, Any] = {"epoch": 0, "step": 0, "best_dice": None, "history": [], "train_seconds": 0.0}
    if resuming and state_path.exists():
        progress = checked_progress(load_optimizer(state_path, optimizer), state_path)
    elif resuming:  # weights without optimizer state: keep the weights and the recorded history
        info = model_config.info
        history = checked_progress({"history": info.get("history")}, out_dir / LAST)["history"]
        scores = [r["val_dice"] for r in history if isinstance(r.get("val_dice"), float) and math.isfinite(r["val_dice"])]
        progress.update(checked_progress({"epoch": info.get("epochs_done") or len(history), "history": history,
                                          "best_dice": max(scores) if scores else None,
                                          "train_seconds": info.get("train_seconds")}, out_dir / LAST))
        notes.append(f"{state_path.name} is missing: the optimizer starts afresh")
    base_info = {
        "train_config": config.to_dict(),
        "train_photos": len(train_samples),
        "val_photos": len(val_samples),
        # this run's groups, with what the model it starts from trained on and held out (lineage_split)
        **lineage_split(model_config.info, {s.group for s in train_samples}, {s.group for s in val_samples}),
        "device": describe_device(device),
        **(info or {}),
    }
    yield TrainEvent(
        "status", epochs=config.epochs,
        message=(f"resuming at epoch {progress['epoch'] + 1}, step {progress['step']}" if resuming
                 else "starting") + f" on {describe_device(device)}; loading {len(train_samples)} + "
        f"{len(val_samples)} photos" + "".join(f"; note: {note}" for note in notes),
    )
    left_to_do = progress["epoch"] < config.epochs
    train_cache = cache_samples(train_samples if left_to_do else [], preprocess)
    val_cache = cache_samples(val_samples if left_to_do else [], preprocess, keep_full_masks=True)
    left_out = train_cache.left_out + val_cache.left_out
    if left_to_do and not len(train_cache):
        raise ValueError(f"no usable training photos: {left_out[0]}" if left_out else "no training photos")
    for line in left_out[:MAX_NOTES]:
        yield TrainEvent("status", epochs=config.epochs, message=f"note: left out: {line}")
    if len(left_out) > MAX_NOTES:
        yield TrainEvent("status", epochs=config.epochs,
                         message=f"note: {len(left_out) - MAX_NOTES} more photo(s) left out for the same reasons")
    steps_per_epoch = math.ceil(len(train_cache) / config.batch_size)
    if config.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, config.max_steps_per_epoch)
    seconds_before = float(progress.get("train_seconds", 0.0))

    def checkpoint(extra: dict[str, Any] | None = None) -> None:
        progress["train_seconds"] = seconds_before + time.monotonic() - started
        model_info = {**base_info, "epochs_done": progress["epoch"], "history": progress["history"],
                      "train_seconds": round(progress["train_seconds"], 1), **(extra or {})}
        save_model(out_dir / LAST, model, replace(model_config, info={**model_config.info, **model_info}))
        save_optimizer(state_path, optimizer, progress)

    last_save = time.monotonic()
    step_times: list[float] = []
    while progress["epoch"] < config.epochs:
        epoch = progress["epoch"]
        lr = learning_rate(config, epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        order = np.random.default_rng([config.seed, epoch]).permutation(len(train_cache))
        model.train()
        if old_frozen:  # the old channels' statistics stay; the fresh ones keep their identity
            for module in model.modules():
                if isinstance(module, nn.BatchNorm2d):
                    module.eval()
        losses = list(progress.get("epoch_losses", []))
        while progress["step"] < steps_per_epoch:
            if should_stop():
                checkpoint()
                yield TrainEvent("stopped", epoch=epoch, epochs=config.epochs, step=progress["step"],
                                 steps_per_epoch=steps_per_epoch, message="stopped; the state is saved")
                return
            step = progress["step"]
            tick = time.monotonic()
            rng = np.random.default_rng([config.seed, epoch, step])
            indices = order[step * config.batch_size : (step + 1) * config.batch_size]
            images, targets, weights = _batch_tensors(train_cache, indices, rng, config, preprocess)
            images, targets = images.to(device), targets.to(device)
            weights = weights.to(device) if weights is not None else None
            with autocast(device, dtype):
                logits = model(images)
            loss = segmentation_loss(logits, targets, weights, config.dice_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            skipped = not finite_step(model, loss)
            if skipped:  # one bad step must not turn the weights or Adam's moments into inf/NaN
                progress["skipped_steps"] = progress.get("skipped_steps", 0) + 1
            else:
                if slow_old is not None:
                    slow_old.before_step()
                optimizer.step()
                if slow_old is not None:
                    slow_old.after_step()
                losses.append(loss.item())
            progress["step"] = step + 1
            progress["epoch_losses"] = losses
            step_times.append(time.monotonic() - tick)
            remaining_steps = (config.epochs - epoch) * steps_per_epoch - (step + 1)
            mean_step = float(np.mean(step_times[-50:]))
            yield TrainEvent(
                "step", epoch=epoch + 1, epochs=config.epochs, step=step + 1, steps_per_epoch=steps_per_epoch,
                loss=float(np.mean(losses[-20:])) if losses else float("nan"), lr=lr, best_dice=progress["best_dice"],
                elapsed_s=time.monotonic() - started, eta_s=remaining_steps * mean_step,
                message=(f"step {step + 1} skipped: the loss or a gradient was not finite "
                         f"({progress['skipped_steps']} skipped in this run)" if skipped else ""),
            )
            if time.monotonic() - last_save > config.save_every_s:
                checkpoint()
                last_save = time.monotonic()
        scores = evaluate_cached(model, val_cache, preprocess, device, dtype) if len(val_cache) else []
        by_source = dice_by_source(val_cache.samples, scores)
        # Each source counts alike, however many photos it has (one source: the plain mean).
        val_dice = float(np.mean(list(by_source.values()))) if scores else None
        record = {"epoch": epoch + 1, "loss": float(np.mean(losses)) if losses else None, "val_dice": val_dice,
                  "lr": lr, "seconds": round(seconds_before + time.monotonic() - started, 1),
                  "skipped_steps": progress.get("skipped_steps", 0)}
        if len(by_source) > 1:
            record["val_dice_by_source"] = {source: round(value, 5) for source, value in by_source.items()}
        progress["history"].append(record)
        progress.update(epoch=epoch + 1, step=0, epoch_losses=[])
        improved = val_dice is not None and (progress["best_dice"] is None or val_dice > progress["best_dice"])
        if improved:
            progress["best_dice"] = val_dice
        checkpoint({"val_dice": val_dice})
        epoch_config = replace(model_config, info={
            **model_config.info, **base_info, "epochs_done": epoch + 1, "val_dice": val_dice,
            "history": progress["history"], "train_seconds": round(progress["train_seconds"], 1)})
        if config.keep_epochs:
            save_model(out_dir / epoch_file(epoch + 1), model, epoch_config)
        if improved or val_dice is None:
            save_model(out_dir / BEST, model, epoch_config)
        write_bytes_atomic(out_dir / HISTORY, json.dumps(progress["history"], indent=1).encode())
        last_save = time.monotonic()
        yield TrainEvent(
            "epoch", epoch=epoch + 1, epochs=config.epochs, step=steps_per_epoch, steps_per_epoch=steps_per_epoch,
            loss=record["loss"] or float("nan"), lr=lr, val_dice=val_dice, best_dice=progress["best_dice"],
            elapsed_s=time.monotonic() - started, history=list(progress["history"]),
        )
    yield TrainEvent("done", epoch=progress["epoch"], epochs=config.epochs, best_dice=progress["best_dice"],
                     elapsed_s=time.monotonic() - started, history=list(progress["history"]),
                     message=f"finished; best validation Dice {progress['best_dice']}")
