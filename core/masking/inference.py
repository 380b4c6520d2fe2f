"""``Segmenter``: a loaded checkpoint that turns photos into masks at their own resolution."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from core.errors import NotEnoughMemory
from core.masking.cleanup import clean_probability
from core.masking.close_up import CloseUp, apply_close_up, close_up_box
from core.masking.context_look import clear_with_context, context_logits, fill_with_context
from core.masking.doubt import doubt_score, pass_doubt, undecided_share
from core.masking.export import soft_edge_alpha
from core.masking.frame_edge import EdgeLook, apply_edge_look, edge_plan
from core.models.checkpoint import ModelConfig, load_networks
from core.models.device import autocast, autocast_dtype, describe_device, select_device
from core.models.model_store import resolve_model
from core.models.networks.fold import fold_batch_norm
from core.models.outline_expert import expert_logits
from core.models.preprocess import upsample_probability


class CpuOutOfMemory(NotEnoughMemory, torch.OutOfMemoryError):
    """Out of memory on the CPU even for one photo: what to tell the user, in one line."""


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` says memory ran out: torch's ``OutOfMemoryError`` on a GPU, the plain
    ``RuntimeError`` of torch's CPU allocator, or Python's ``MemoryError``."""
    if isinstance(error, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and ("DefaultCPUAllocator" in text or "can't allocate memory" in text)


@dataclass
class Prediction:
    """The model's answer for one photo.

    ``probability`` is (H, W) uint8, 0..255 = car probability, at the photo's resolution.
    ``uncertainty`` is the share of pixels whose probability is between 0.1 and 0.9 at the
    working size: near 0 for a confident mask, larger for doubtful ones. ``mirror`` is the
    share of pixels where the photo's and its mirror image's masks disagree (None when not
    measured), ``area`` the mask's share of the working image.
    """

    probability: np.ndarray
    uncertainty: float
    seconds: float
    mirror: float | None = None
    area: float | None = None

    @property
    def doubt(self) -> float:
        """``core.masking.doubt.doubt_score``: above ``CHECK_DOUBT`` the mask should be checked."""
        return doubt_score(self.uncertainty, self.mirror, self.area)

    @property
    def mask(self) -> np.ndarray:
        """(H, W) bool, True = car."""
        return self.probability >= 128

    @property
    def alpha(self) -> np.ndarray:
        """(H, W) uint8, the cut-out's default alpha: 0/255 (= ``mask``) but anti-aliased along
        the outline (``core.masking.export.soft_edge_alpha``). The app, the CLI and the batch export it."""
        return soft_edge_alpha(self.probability)


class Segmenter:
    """A model ready for inference. Thread-safe for one caller at a time.

    ``flip_tta`` (on by default) averages the model's answer for each photo with its answer for
    the mirrored photo: twice the model time, a better mask (figures in the default model's
    card). ``close_up`` (on by default) masks the main car a second time from a crop around it
    when it stands small in the photo (``core.masking.close_up``): up to twice the time again, only
    for those photos. ``frame_edge`` (on by default) masks a car cut by the frame a second time
    from the photo reflected outward on the sides it touches (``core.masking.frame_edge``): twice
    the time for those photos. ``studio_outline`` (on by default) uses the checkpoint's studio outline
    expert, when it holds one (``core.models.outline_expert``), with the mirror pass: a preview call at
    a lower resolution per view, and a full call where the preview agrees; a single pass (``flip_tta``
    off) stays one call. ``expert_views``, ``expert_looked`` and ``expert_used`` count the views the
    expert previewed, those it looked at in full and those whose outline it drew. ``context_look`` (on by
    default) masks each view again at a smaller size with the mirror pass and clears the large regions
    both answers together call background (``core.masking.context_look``): two calls at 0.4 of the cost
    each, and two more by the checkpoint's context network when it holds one (``context_network``,
    ``core.models.context_network``); ``context_cleared`` counts the views it cleared a region of, and
    ``context_filled`` those it filled one of (where the context network's rule fills).
    ``on_notice`` receives one-line messages such as an out-of-memory fallback.
    ``model`` runs as a copy with its batch norms folded into its convolutions
    (``core.models.networks.fold``): the same masks up to float rounding, faster.
    """

    def __init__(
        self, model: nn.Module, config: ModelConfig, *, device: str = "auto", name: str = "",
        flip_tta: bool = True, close_up: bool = True, frame_edge: bool = True,
        outline_expert: nn.Module | None = None, studio_outline: bool = True, context_look: bool = True,
        context_network: nn.Module | None = None, on_notice: Callable[[str], None] | None = None,
    ) -> None:
        if outline_expert is not None and config.outline_expert is None:
            raise ValueError("an outline expert needs its rule in config.outline_expert")
        if context_network is not None and config.context_network is None:
            raise ValueError("a context network needs its rule in config.context_network")
        self.config = config
        self.name = name or config.info.get("name", config.arch)
        self.flip_tta = flip_tta
        self.close_up = close_up
        self.frame_edge = frame_edge
        self.studio_outline = studio_outline
        self.context_look = context_look
        self.context_cleared = 0
        self.context_filled = 0
        self.expert_views = self.expert_looked = self.expert_used = 0
        self.expert_preview = True  # off: the expert looks at every view in full (to measure what the preview saves)
        self.on_notice = on_notice or (lambda message: None)
        self.path: Path | None = None  # the checkpoint file, when loaded by ``load``
        self.device = select_device(device)
        # photos per model call; on the CPU one at a time is fastest (512x512 on 2 cores: 63 ms
        # per photo alone, 103 ms in fours: the activations outgrow the caches)
        self.batch_size = 1 if self.device.type == "cpu" else 4
        self.model = fold_batch_norm(model)  # a copy: the caller's model keeps its batch norms
        self.outline_expert = None if outline_expert is None else fold_batch_norm(outline_expert)
        self.context_network = None if context_network is None else fold_batch_norm(context_network)
        self._move_to(self.device)

    @classmethod
    def load(cls, spec: str | Path | None = None, *, device: str = "auto", **kwargs) -> Segmenter:
        """Load a checkpoint file, run folder, or model name (``default`` when None).

        The segmenter's ``name`` is the model name asked for (``default``, a user version), else
        the name recorded in the checkpoint, else the run folder's or the file's name.
        """
        path = resolve_model(spec)
        model, expert, context_network, config = load_networks(path)
        spec_path = Path(str(spec)) if spec not in (None, "") else None
        if spec_path is None:
            name = path.stem
        elif not spec_path.exists():
            name = str(spec)
        elif spec_path.is_dir():
            name = config.info.get("name") or spec_path.resolve().name
        else:
            name = config.info.get("name") or path.stem
        segmenter = cls(model, config, device=device, name=kwargs.pop("name", None) or name, outline_expert=expert,
                        context_network=context_network, **kwargs)
        segmenter.path = path
        return segmenter

    def _move_to(self, device: torch.device) -> None:
        self.device = device
        self.model = self.model.to(device).to(memory_format=torch.channels_last)
        if self.outline_expert is not None:
            self.outline_expert = self.outline_expert.to(device).to(memory_format=torch.channels_last)
        if self.context_network is not None:
            self.context_network = self.context_network.to(device).to(memory_format=torch.channels_last)
        self.dtype = autocast_dtype(device)

    @property
    def device_label(self) -> str:
        return describe_device(self.device)

    @property
    def has_outline_expert(self) -> bool:
        """Whether the checkpoint holds a studio outline expert (``studio_outline`` turns its use on or off)."""
        return self.outline_expert is not None

    @property
    def size(self) -> int:
        return self.config.preprocess.size

    def probabilities(self, batch: torch.Tensor) -> np.ndarray:
        """Normalised working-size batch (N, 3, S, S) -> car probabilities (N, S, S) float32,
        averaged with the mirrored photos when ``flip_tta`` is on."""
        return self.probabilities_and_disagreement(batch, mirror=self.flip_tta)[0]

    @torch.no_grad()
    def probabilities_and_disagreement(
        self, batch: torch.Tensor, *, mirror: bool, context_network: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Car probabilities (N, S, S) float32, and with ``mirror`` the (N,) share of pixels where
        the masks of each photo and of its mirror image disagree (None without ``mirror``).

        With ``mirror`` the probabilities come from the average of both answers' logits, blended with the
        studio outline expert's (``studio_outline``) along the outline where its rule allows.
        ``context_network`` False: the context look is the main network's own, as without a context network.
        On an out-of-memory error the batch is split (``batch_size`` is lowered for later
        calls), and at one photo the model moves from the GPU to the CPU; ``on_notice`` says so.
        Out of memory on the CPU for one photo raises ``CpuOutOfMemory`` (both a
        ``torch.OutOfMemoryError`` and a one-line ``MaskingNetError``).
        """
        try:
            return self._probabilities(batch, mirror, context_network)
        except (RuntimeError, MemoryError) as error:
            if not is_out_of_memory(error):
                raise
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            where = "CPU" if self.device.type == "cpu" else "GPU"
            if len(batch) > 1:
                half = len(batch) // 2
                if half < self.batch_size:
                    self.batch_size = half
                    self.on_notice(f"out of {where} memory: batch size lowered to {half}")
                first = self.probabilities_and_disagreement(batch[:half], mirror=mirror, context_network=context_network)
                second = self.probabilities_and_disagreement(batch[half:], mirror=mirror,
                                                             context_network=context_network)
                return (np.concatenate([first[0], second[0]]),
                        None if first[1] is None else np.concatenate([first[1], second[1]]))
            if self.device.type == "cpu":
                raise CpuOutOfMemory(
                    f"out of memory on the CPU even for one photo at {self.size}x{self.size}; close other programs"
                ) from None
            self.on_notice(f"out of {where} memory even for one photo: masking on the CPU from now on")
            self._move_to(torch.device("cpu"))
            return self.probabilities_and_disagreement(batch, mirror=mirror, context_network=context_network)

    def _probabilities(self, batch: torch.Tensor, mirror: bool,
                       use_context_network: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        batch = batch.to(self.device, non_blocking=True)
        with autocast(self.device, self.dtype):
            direct = self.model(batch).float()
            if not mirror:
                return torch.softmax(direct, dim=1)[:, 1].cpu().numpy(), None
            # two calls, not one of twice the size: faster on the CPU (124 against 160 ms at 512)
            mirrored = self.model(batch.flip(-1)).float().flip(-1)
            logits = (direct + mirrored) / 2
            helper = self.context_network if use_context_network else None
            rule = self.config.context_network if helper is not None else None
            context = context_logits(self.model, batch, helper, rule) if self.context_look else None
            if context is not None:
                logits, cleared = (clear_with_context(logits, context) if rule is None else
                                   clear_with_context(logits, context, rule.weight, rule.region_margin))
                self.context_cleared += int((cleared > 0).sum())
                if rule is not None and rule.fill_region > 0:
                    logits, filled = fill_with_context(logits, context, rule.weight, rule.fill_region)
                    self.context_filled += int((filled > 0).sum())
            if self.outline_expert is not None and self.studio_outline:
                logits, looked, used = expert_logits(logits, batch, self.outline_expert, self.config.outline_expert,
                                                     preview=self.expert_preview)
                self.expert_views += len(used)
                self.expert_looked += int(looked.sum())
                self.expert_used += int(used.sum())
        probability = torch.softmax(logits, dim=1)[:, 1]
        disagreement = (direct.argmax(1) != mirrored.argmax(1)).float().mean(dim=(1, 2))
        return probability.cpu().numpy(), disagreement.cpu().numpy()

    def predict(self, rgb: np.ndarray, alpha: np.ndarray | None = None, *, close_up: bool | None = None,
                frame_edge: bool | None = None) -> Prediction:
        """Mask one (H, W, 3) uint8 photo at its own resolution; ``close_up`` and ``frame_edge`` None
        follow the segmenter's."""
        return self.predict_batch([rgb], [alpha], close_up=close_up, frame_edge=frame_edge)[0]

    def predict_batch(
        self, images: Sequence[np.ndarray], alphas: Sequence[np.ndarray | None] | None = None,
        *, close_up: bool | None = None, frame_edge: bool | None = None,
    ) -> list[Prediction]:
        """Mask several photos in batches of ``batch_size``; ``alphas`` limit each mask."""
        images = [_as_rgb(image) for image in images]
        alphas = list(alphas) if alphas is not None else [None] * len(images)
        if len(alphas) != len(images):
            raise ValueError(f"{len(images)} photos but {len(alphas)} alpha masks")
        close_up = self.close_up if close_up is None else close_up
        frame_edge = self.frame_edge if frame_edge is None else frame_edge
        results: list[Prediction] = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            tick = time.perf_counter()
            small, disagreement = self.probabilities_and_disagreement(self.config.preprocess(chunk), mirror=self.flip_tta)
            mirrors = [None] * len(chunk) if disagreement is None else [float(score) for score in disagreement]
            cleaned = [clean_probability(probability) for probability in small]
            closer = self.look_closer(chunk, cleaned) if close_up else [None] * len(chunk)
            past_edge = (self.look_past_edge(chunk, cleaned, [pass_doubt(p, m) for p, m in zip(small, mirrors)])
                         if frame_edge else [None] * len(chunk))
            seconds = (time.perf_counter() - tick) / len(chunk)
            results.extend(
                self.finish(probability, image.shape[1], image.shape[0], alpha, seconds, mirror=mirror, close_up=look,
                            cleaned=clean, edge=edge)
                for probability, clean, image, alpha, mirror, look, edge in zip(
                    small, cleaned, chunk, alphas[start : start + len(chunk)], mirrors, closer, past_edge)
            )
        return results

    def look_closer(self, images: Sequence[np.ndarray], cleaned: Sequence[np.ndarray], *,
                    mirror: bool | None = None) -> list[CloseUp | None]:
        """The second pass (``core.masking.close_up``) of each (H, W, 3) uint8 photo, given its first
        pass's working-size probabilities after ``cleanup.clean_probability`` (``finish`` takes them
        too, so they are cleaned once): None where the car needs no closer look. ``mirror`` (None:
        ``flip_tta``) averages the crops with their mirror images too."""
        boxes = [close_up_box(small, image.shape[1], image.shape[0]) for image, small in zip(images, cleaned)]
        probabilities = self._mask_views(
            [None if box is None else np.ascontiguousarray(image[box.slices]) for image, box in zip(images, boxes)],
            mirror)
        return [None if probability is None else CloseUp(box, probability)
                for box, probability in zip(boxes, probabilities)]

    def look_past_edge(self, images: Sequence[np.ndarray], cleaned: Sequence[np.ndarray], doubts: Sequence[float],
                       *, mirror: bool | None = None) -> list[EdgeLook | None]:
        """The second pass (``core.masking.frame_edge``) of each (H, W, 3) uint8 photo whose car
        touches the frame, given its first pass's working-size probabilities after
        ``cleanup.clean_probability`` and that pass's ``doubt.pass_doubt``: None where the car touches
        no side or the first pass is too unsure of the car there (``frame_edge.edge_plan``). ``mirror``
        (None: ``flip_tta``) averages the reflected photos with their mirror images too."""
        plans = [edge_plan(small, image.shape[1], image.shape[0], doubt=doubt)
                 for image, small, doubt in zip(images, cleaned, doubts, strict=True)]
        # the reflected photo shows the car doubled at the edge, which a context network trained on whole cars
        # may clear: the edge look takes the main network's own context look
        probabilities = self._mask_views(
            [None if plan is None else plan[0].apply(image) for image, plan in zip(images, plans)], mirror,
            context_network=False)
        return [None if probability is None else EdgeLook(plan[0], probability, plan[1])
                for plan, probability in zip(plans, probabilities)]

    def _mask_views(self, views: Sequence[np.ndarray | None], mirror: bool | None,
                    context_network: bool = True) -> list[np.ndarray | None]:
        """The working-size car probabilities of each (H, W, 3) view, in batches of ``batch_size``;
        None for None. ``mirror`` None follows ``flip_tta``; ``context_network`` as in
        ``probabilities_and_disagreement``."""
        mirror = self.flip_tta if mirror is None else mirror
        wanted = [index for index, view in enumerate(views) if view is not None]
        results: list[np.ndarray | None] = [None] * len(views)
        for start in range(0, len(wanted), self.batch_size):
            chunk = wanted[start : start + self.batch_size]
            probabilities, _ = self.probabilities_and_disagreement(
                self.config.preprocess([views[index] for index in chunk]), mirror=mirror, context_network=context_network)
            for index, probability in zip(chunk, probabilities):
                results[index] = probability
        return results

    @staticmethod
    def finish(
        small: np.ndarray, width: int, height: int, alpha: np.ndarray | None = None, seconds: float = 0.0,
        *, clean: bool = True, mirror: float | None = None, close_up: CloseUp | None = None,
        cleaned: np.ndarray | None = None, edge: EdgeLook | None = None,
    ) -> Prediction:
        """Turn working-size probabilities into a full-resolution ``Prediction``; ``clean``
        removes specks, pinholes and car regions apart from the main car first
        (``core.masking.cleanup``); ``mirror`` is the disagreement
        with the mirrored photo, when measured; ``edge`` (``look_past_edge``) replaces the first
        pass where it is stable (``frame_edge.apply_edge_look``); ``close_up`` (``look_closer``) is
        then averaged in inside its box; ``cleaned`` is ``clean_probability(small)`` when the caller has it already. The
        uncertainty and area (the doubt score's inputs) are the first pass's."""
        tick = time.perf_counter()
        uncertainty = undecided_share(small)
        area = float(np.mean(small >= 0.5))
        if clean and cleaned is None:
            cleaned = clean_probability(small)
        probability = upsample_probability(cleaned if clean else small, width, height)
        if edge is not None:
            apply_edge_look(probability, edge, clean=clean)
        if close_up is not None:
            apply_close_up(probability, close_up, clean=clean)
        if alpha is not None:
            np.minimum(probability, alpha, out=probability)
        return Prediction(probability, uncertainty, seconds + time.perf_counter() - tick, mirror, area)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    """(H, W) gray, (H, W, 3) RGB or (H, W, 4) RGBA uint8 -> (H, W, 3) uint8; else ValueError."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 photo, got {image.dtype} (core.io.imageio.read_photo converts any file)")
    if image.ndim >= 2 and (image.shape[0] == 0 or image.shape[1] == 0):
        raise ValueError(f"the photo is empty: shape {image.shape}")
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        return np.ascontiguousarray(image[..., :3])
    raise ValueError(f"expected an (H, W, 3) photo, got shape {image.shape}")
