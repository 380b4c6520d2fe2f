"""A training mix: several data sets, each split apart for validation and weighted by repeats.

A mix file is JSON: ``{"sources": [SOURCE, ...]}`` where each SOURCE is an object with
``name``, ``images`` and ``masks`` (folders), and optionally ``confidence`` (a folder of 8-bit
maps named like the masks, ``<stem>.png``: how far each label pixel is trusted), ``emphasis`` (a
folder of 8-bit maps named alike whose pixels > 0 weigh the recipe's ``correction_weight`` more in
the loss, as a user's corrections do; a photo without one has no emphasis), ``split``
(``"group"``: by car, Carvana's ids or sub-folders; ``"photo"``: every photo apart),
``edge_emphasis`` (pixels at the working size, default 0: for exact masks, the band that wide on
both sides of each mask's outline weighs like ``emphasis``), ``edge_unknown`` (pixels at the
working size, default 0: for teacher labels, the band that wide on both sides of each mask's
outline is unknown, so an outline the teachers draw too far out or in is not taught),
``ground_unknown`` (pixels at the working size, default 0: for teacher labels, the background that
far straight below the label's car is unknown, as the teachers take part of a car's ground shadow for car),
``degrade`` (a share in [0, 1]: this source's training photos given camera degradations instead of
the recipe's ``degrade``; e.g. only sources with exact masks, whose outline stays true however
blurred the photo), ``panning`` (a share in [0, 1], default the recipe's ``panning``: this source's
training photos shown as a camera following a moving car sees them, the background streaked and
the car sharp, which the mask must say exactly), ``augment`` (true or false, default true: false shows
this source's training photos as they are, without the recipe's geometric, colour, zoom or camera
changes; e.g. studio photos in a last polish, where their exact framing is what is taught),
``val_fraction`` (default 0.2), ``val_every`` (score every N-th validation photo during training,
default 1: all; the others stay held out all the same) and ``repeat`` (how many times a training
photo is listed per epoch, default 1). Folders may use ``${MASKINGNET_DATA}`` (default ``../shared/data``) and
``${MASKINGNET_LABELS}`` (default ``~/.cache/maskingnet-labels``); relative folders are taken
from the working directory.

A variant names only what it changes: ``{"extends": "outdoor-mix-degrade.json", "sources": [{"name":
"carvana", "repeat": 2, "augment": false}]}`` is that mix (a file in the same folder, read the same
way) with those fields of its ``carvana`` source set; null sets a field back to its default. A source
with a new name is added, last or right after the one its ``"after"`` names. A missing, damaged or
circular base is a one-line error naming the file that points at it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from string import Template
from typing import Any

from core.errors import printable
from core.io.records import RecordError, inside, read_json
from core.training.data import Sample, find_samples, split_by_group, with_confidence, with_emphasis

SPLIT_SEED = 0  # the split never follows the training seed: seed 0 is the shipped studio model's split,
# so the Carvana cars it held out stay out of every mix (and composites named by car split alike)
EXTENDS = "extends"  # a mix that names another (a file in the same folder) and only what it changes
AFTER = "after"  # in such a mix, where a source new to it goes (after the named one; default: last)
MAX_EXTENDS_DEPTH = 8
DEFAULT_FOLDERS = {"MASKINGNET_DATA": "../shared/data", "MASKINGNET_LABELS": "~/.cache/maskingnet-labels"}


def labels_folder() -> Path:
    """Where ``scripts/make_outdoor_labels.sh`` puts the outdoor labels: ``$MASKINGNET_LABELS`` or its default."""
    return Path(os.environ.get("MASKINGNET_LABELS", DEFAULT_FOLDERS["MASKINGNET_LABELS"])).expanduser()


# the source's fields that each of its samples carries (``Sample``'s fields of the same names)
PER_SAMPLE = ("edge_emphasis", "edge_unknown", "ground_unknown", "degrade", "panning", "augment")


@dataclass(frozen=True)
class MixSource:
    name: str
    images: Path
    masks: Path
    confidence: Path | None = None
    emphasis: Path | None = None
    split: str = "group"
    val_fraction: float = 0.2
    val_every: int = 1
    repeat: int = 1
    edge_emphasis: int = 0
    edge_unknown: int = 0
    ground_unknown: int = 0
    degrade: float | None = None
    panning: float | None = None
    augment: bool = True

    @classmethod
    def from_json(cls, data: Any, where: str) -> MixSource:
        """Validate one source object; errors name ``where`` (the file and the entry)."""
        if not isinstance(data, dict):
            raise ValueError(f"{where}: a source is an object with name, images and masks")
        unknown = set(data) - {field.name for field in fields(cls)}
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        for key in ("name", "images", "masks"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise ValueError(f"{where}: {key!r} must be a non-empty string")
        for key in ("confidence", "emphasis"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise ValueError(f"{where}: {key!r} must be a folder name")
        split = data.get("split", "group")
        if split not in ("group", "photo"):
            raise ValueError(f"{where}: 'split' is 'group' or 'photo', not {split!r}")
        val_fraction = data.get("val_fraction", 0.2)
        if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0 <= val_fraction < 1:
            raise ValueError(f"{where}: 'val_fraction' must be a number in [0, 1)")
        shares = {key: _share(data.get(key), key, where) for key in ("degrade", "panning")}
        counts = {}
        for key, (default, low, high, unit) in _WHOLE_NUMBER_FIELDS.items():
            counts[key] = data.get(key, default)
            if isinstance(counts[key], bool) or not isinstance(counts[key], int) or not low <= counts[key] <= high:
                raise ValueError(f"{where}: {key!r} must be a whole number {unit}from {low} to {high}")
        augmented = data.get("augment", True)
        if not isinstance(augmented, bool):
            raise ValueError(f"{where}: 'augment' must be true or false")
        try:
            folders = {key: _folder(data[key]) for key in ("images", "masks", "confidence", "emphasis") if data.get(key)}
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        return cls(name=data["name"], images=folders["images"], masks=folders["masks"],
                   confidence=folders.get("confidence"), emphasis=folders.get("emphasis"), split=split,
                   val_fraction=float(val_fraction), augment=augmented, **shares, **counts)


def _share(value: Any, key: str, where: str) -> float | None:
    """A source's optional share of its training photos: None, or a number in [0, 1]."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{where}: {key!r} must be a number in [0, 1]")
    return float(value)


# whole-number fields of a source: (default, lowest, highest, unit named in the error)
_WHOLE_NUMBER_FIELDS = {
    "repeat": (1, 1, 100, ""),
    "val_every": (1, 1, 100, ""),
    "edge_emphasis": (0, 0, 32, "of pixels "),
    "edge_unknown": (0, 0, 32, "of pixels "),
    "ground_unknown": (0, 0, 32, "of pixels "),
}


def _folder(text: str) -> Path:
    values = {**DEFAULT_FOLDERS, **{k: v for k, v in os.environ.items() if k in DEFAULT_FOLDERS}}
    try:
        expanded = Template(text).substitute(values)
    except (KeyError, ValueError) as error:
        raise ValueError(f"{text!r}: unknown placeholder {error} (known: {', '.join(DEFAULT_FOLDERS)})") from None
    return Path(expanded).expanduser()


def read_mix(path: str | Path) -> list[MixSource]:
    """The sources of a mix file, its base's first when it ``extends`` one; raises ValueError
    naming the file for anything malformed (a base's own faults name the base)."""
    path = Path(path)
    return _checked(path, _entries(path, chain=()))


def _entries(path: Path, chain: tuple[Path, ...]) -> list[dict[str, Any]]:
    """The resolved source objects of the mix file ``path``, unchecked (the caller runs ``_checked``)."""
    data = _read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("sources"), list) or not data["sources"]:
        raise ValueError(f"{path}: a mix file is an object with a non-empty list 'sources'")
    unknown = set(data) - {"sources", EXTENDS}
    if unknown:
        raise ValueError(f"{path}: unknown field(s) {printable(', '.join(sorted(unknown)))} (a mix has 'sources' "
                         f"and may have {EXTENDS!r})")
    for index, item in enumerate(data["sources"]):
        if not isinstance(item, dict):
            raise ValueError(f"{path}: source {index + 1}: a source is an object with name, images and masks")
    if EXTENDS not in data:
        if any(AFTER in item for item in data["sources"]):
            raise ValueError(f"{path}: {AFTER!r} is only for a mix that {EXTENDS} another")
        entries = [dict(item) for item in data["sources"]]
    else:
        entries = _changed(_base_entries(path, data[EXTENDS], chain), data["sources"], path)
    return entries


def _read_json(path: Path) -> Any:
    try:
        return read_json(path)
    except RecordError as error:
        raise ValueError(str(error)) from None
    except FileNotFoundError:
        raise ValueError(f"{path}: not a readable JSON mix file (no such file)") from None


def _base_entries(path: Path, base_name: Any, chain: tuple[Path, ...]) -> list[dict[str, Any]]:
    """The checked entries of the mix ``path`` extends: a file in the same folder, not one already in
    ``chain``; a fault of its own names it."""
    if not isinstance(base_name, str) or not base_name.endswith(".json"):
        raise ValueError(f"{path}: {EXTENDS!r} should name a mix file (*.json) in the same folder")
    try:
        base_path = inside(path.parent, base_name, path)
    except RecordError as error:
        raise ValueError(str(error)) from None
    visited = (*chain, path.resolve())
    if base_path.resolve() in visited:
        raise ValueError(f"{path}: {EXTENDS!r} leads back to {printable(base_name)}: mixes extend in a circle")
    if len(visited) >= MAX_EXTENDS_DEPTH:
        raise ValueError(f"{path}: more than {MAX_EXTENDS_DEPTH} mixes extend one another")
    if not base_path.is_file():
        raise ValueError(f"{path}: the mix it extends, {printable(base_name)}, does not exist")
    entries = _entries(base_path, visited)
    _checked(base_path, entries)
    return entries


def _changed(base: list[dict[str, Any]], changes: list[dict[str, Any]], path: Path) -> list[dict[str, Any]]:
    """``base``'s sources with ``changes`` applied: a change naming a base source sets the fields it
    lists (null: back to the field's default); one with a new name is added, at the end or right
    after the source its ``after`` names."""
    merged = [dict(entry) for entry in base]
    by_name = {entry["name"]: entry for entry in merged}
    changed: set[str] = set()
    for index, change in enumerate(changes):
        where = f"{path}: source {index + 1}"
        name = change.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{where}: 'name' must be a non-empty string (the source it changes or adds)")
        if name in changed:
            raise ValueError(f"{where}: {printable(name)} is changed twice")
        changed.add(name)
        if name in by_name:
            if AFTER in change:
                raise ValueError(f"{where}: {AFTER!r} places a new source; {printable(name)} is in the mix it "
                                 f"{EXTENDS}")
            entry = by_name[name]
            entry.update(change)
            for key in [key for key, value in entry.items() if value is None]:
                del entry[key]
            continue
        entry = {key: value for key, value in change.items() if key != AFTER and value is not None}
        after = change.get(AFTER)
        if after is None:
            merged.append(entry)
        elif isinstance(after, str) and after in by_name:
            merged.insert(merged.index(by_name[after]) + 1, entry)
        else:
            raise ValueError(f"{where}: {AFTER!r} must name a source already in the mix")
        by_name[name] = entry
    return merged


def _checked(path: Path, entries: list[dict[str, Any]]) -> list[MixSource]:
    """The sources of ``entries`` (mix file ``path``); ValueError naming the file and source for any fault."""
    sources = [MixSource.from_json(entry, _source_label(path, index, entry)) for index, entry in enumerate(entries)]
    names = [source.name for source in sources]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: source names must differ")
    return sources


def _source_label(path: Path, index: int, entry: dict[str, Any]) -> str:
    """How an error names source ``index`` (0-based) of mix ``path``: "<path>: source 2 (stanford-cars)"."""
    name = entry.get("name")
    return f"{path}: source {index + 1}" + (f" ({printable(name)})" if isinstance(name, str) else "")


def trained_groups(info: dict) -> set[str]:
    """Every group a model was trained on: its own run's and those its starting model had seen
    (``trained_before``, recorded when it ships; a label set that grows re-splits, so a photo held
    out now may have been trained on by an earlier stage)."""
    return set(info.get("train_groups", [])) | set(info.get("trained_before", []))


def lineage_split(start_info: dict, train_groups: set[str], val_groups: set[str]) -> dict[str, list[str]]:
    """The split a model trained from ``start_info``'s model records (its info's ``train_groups``,
    ``trained_before``, ``val_groups``): its own training groups; what its starting model and that one's
    ancestors trained on, less those; and the held-out groups of both, less any the line trained on.
    A run on part of its starting model's photos then still holds out what that model held out, and a
    later stage keeps the split (``keep_split``) rather than splitting those photos afresh."""
    trained = trained_groups(start_info) | train_groups
    held_out = (set(start_info.get("val_groups", [])) | val_groups) - trained
    return {"train_groups": sorted(train_groups), "trained_before": sorted(trained - train_groups),
            "val_groups": sorted(held_out)}


def keep_split(samples: list[Sample], val_fraction: float, *, seed: int, held_out: set[str],
               trained: set[str]) -> tuple[list[Sample], list[Sample]]:
    """Split as a starting model did: its ``held_out`` groups stay held out, the groups it ``trained`` on
    stay in training, only groups new to it are split by ``split_by_group``. A label set that grows
    (or loses a photo) would otherwise be shuffled afresh, and a continued stage would train on
    photos its starting model held out."""
    seen = held_out | trained
    new_train, new_val = split_by_group([s for s in samples if s.group not in seen], val_fraction, seed=seed)
    return ([s for s in samples if s.group in trained and s.group not in held_out] + new_train,
            [s for s in samples if s.group in held_out] + new_val)


def mix_samples(sources: list[MixSource], *, seed: int = SPLIT_SEED, start_info: dict | None = None,
                ) -> tuple[list[Sample], list[Sample], list[str]]:
    """(training samples with repeats, validation samples, notes), each source split on its own;
    with ``start_info`` (the starting model's ``info``), as it was split (``keep_split``)."""
    held_out = set(start_info.get("val_groups", [])) if start_info else set()
    trained = trained_groups(start_info) if start_info else set()
    seen = held_out | trained
    train: list[Sample] = []
    val: list[Sample] = []
    notes = []
    for source in sources:
        samples, unmatched = find_samples(source.images, source.masks)
        if unmatched:
            notes.append(f"{source.name}: {len(unmatched)} photo(s) without a mask left out")
        if source.confidence is not None:
            paired = with_confidence(samples, source.confidence)
            if len(paired) < len(samples):
                notes.append(f"{source.name}: {len(samples) - len(paired)} photo(s) without a confidence map left out")
            samples = paired
        if source.emphasis is not None:
            samples = with_emphasis(samples, source.emphasis)
            emphasised = sum(sample.weight is not None for sample in samples)
            notes.append(f"{source.name}: {emphasised} of {len(samples)} photo(s) with an emphasis map")
        if not samples:
            raise ValueError(f"{source.images}: no photos with masks in {source.masks} (source {source.name!r})")
        samples = [replace(s, source=source.name, **{key: getattr(source, key) for key in PER_SAMPLE},
                           group=f"{source.name}:{s.image.stem}" if source.split == "photo" else s.group)
                   for s in samples]
        if start_info is None:
            source_train, source_val = split_by_group(samples, source.val_fraction, seed=seed)
        else:
            source_train, source_val = keep_split(samples, source.val_fraction, seed=seed, held_out=held_out,
                                                  trained=trained)
            new = sum(s.group not in seen for s in samples)
            notes.append(f"{source.name}: split as the starting model was ({new} photo(s) new to it split afresh)")
        train += source_train * source.repeat
        val += source_val[:: source.val_every]
        scored = f" ({len(source_val[:: source.val_every])} scored)" if source.val_every > 1 else ""
        edges = (f", outline +-{source.edge_emphasis} px emphasised" if source.edge_emphasis else "") + (
            f", outline +-{source.edge_unknown} px unknown" if source.edge_unknown else "") + (
            f", ground {source.ground_unknown} px below the car unknown" if source.ground_unknown else "") + (
            f", {source.degrade:g} degraded" if source.degrade is not None else "") + (
            f", {source.panning:g} panned" if source.panning is not None else "") + (
            ", not augmented" if not source.augment else "")
        notes.append(f"{source.name}: {len(source_train)} training photos (x{source.repeat}), "
                     f"{len(source_val)} validation{scored}{edges}")
    return train, val, notes
