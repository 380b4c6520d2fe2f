"""Entry points: ``maskingnet-app`` (``run``, the desktop app) and the headless
``--self-check PHOTO OUT`` the packaged app is tested with.

    maskingnet-app [PHOTOS_OR_FOLDERS...] [--model M] [--device D]
    maskingnet-app --self-check PHOTO OUT [--model M] [--device D]

The window opens before torch is imported; the model loads on a worker thread.
Setting ``MASKINGNET_STARTUP_REPORT=1`` prints when the window was shown and when the model
was ready, then quits (benchmarks/bench_startup.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from core import __version__
from core.models.device import DEVICE_CHOICES

if TYPE_CHECKING:
    from maskingnet_app.main_window import MainWindow
    from maskingnet_app.model.model_service import ModelService


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="maskingnet-app", description="MaskingNet: cut cars out of their background.")
    parser.add_argument("files", nargs="*", help="photos or folders to open")
    parser.add_argument("--model", default=None, help="checkpoint file, run folder or model name (default: the last one used)")
    parser.add_argument("--device", default=None, choices=DEVICE_CHOICES, help="where the model runs")
    parser.add_argument("--self-check", nargs=2, metavar=("PHOTO", "OUT"), type=Path,
                        help="without a window: mask PHOTO, write its cut-out PNG to OUT, exit 0 when it worked")
    parser.add_argument("--version", action="version", version=f"maskingnet-app {__version__}")
    return parser


def self_check(photo: Path, out: Path, model: str | None = None, device: str | None = None) -> int:
    """Load the model, mask ``photo``, write the cut-out PNG to ``out``; 0 on success, else 1
    with one line on stderr. Also imports Qt's widgets, which a packaged app must carry."""
    tick = time.perf_counter()
    try:
        segmenter, prediction = _mask_and_export(photo, out, model, device)
    except ImportError as error:
        return _fail(f"cannot import {error.name or error}")
    except Exception as error:  # noqa: BLE001 - a self-check reports any failure as one line
        from core.io.records import one_line

        return _fail(one_line(error))
    share = float(prediction.mask.mean())
    print(f"self-check ok: {out} ({segmenter.name} on {segmenter.device_label}, {time.perf_counter() - tick:.2f} s, "
          f"car {share:.0%} of the photo)")
    return 0


def _mask_and_export(photo: Path, out: Path, model: str | None, device: str | None):
    import PySide6.QtWidgets  # noqa: F401

    from core.io.imageio import read_photo
    from core.masking.export import ExportOptions
    from core.masking.inference import Segmenter
    from core.models.model_versions import active_model
    from maskingnet_app.export.exporter import export_alpha

    segmenter = Segmenter.load(model or active_model(), device=device or "auto")
    image = read_photo(photo)
    prediction = segmenter.predict(image.rgb, image.alpha)
    out.parent.mkdir(parents=True, exist_ok=True)
    export_alpha(image, prediction.alpha, out, ExportOptions(format="png"))
    return segmenter, prediction


def _fail(message: str) -> int:
    print(f"self-check failed: {message}", file=sys.stderr)
    return 1


def compose_window(model_service: ModelService | None = None, **kwargs) -> MainWindow:
    """The main window with its features: File → Process Folder / Review Batch Folder (``batch``)
    and the Model menu with Train on My Corrections (``model``), kept in ``window.features``.
    ``kwargs`` go to ``MainWindow``."""
    from maskingnet_app.batch.batch_menu import BatchFeature
    from maskingnet_app.main_window import MainWindow
    from maskingnet_app.training.model_menu import ModelFeature

    window = MainWindow(model_service, **kwargs)
    window.features["batch"] = BatchFeature(window)
    window.features["model"] = ModelFeature(window)
    return window


def main(files: list[str], *, model: str | None = None, device: str | None = None) -> int:
    """Open the window (with ``files``) and run until it is closed; returns the exit code."""
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from maskingnet_app import app_settings
    from maskingnet_app.gui_thread_gc import GuiThreadCollector
    from maskingnet_app.main_window import ICON_PATH
    from maskingnet_app.model.model_service import ModelService

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(app_settings.ORGANIZATION)
    app.setApplicationName(app_settings.APPLICATION)
    app.setApplicationVersion(__version__)
    app_settings.migrate_legacy_settings()
    collector = GuiThreadCollector(app)  # workers never collect cycles holding Qt wrappers
    collector.start()
    app.aboutToQuit.connect(collector.stop)
    if ICON_PATH.is_file():
        app.setWindowIcon(QIcon(str(ICON_PATH)))
    service = ModelService(model, device)
    window = compose_window(service, load_model=False)
    window.show()
    if os.environ.get("MASKINGNET_STARTUP_REPORT"):
        _report_startup(window, service)
    QTimer.singleShot(0, lambda: service.load(remember=model is None))
    if files:
        QTimer.singleShot(0, lambda: window.open_paths(files))
    return app.exec()


def _report_startup(window, service) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    def shown() -> None:
        print(f"window-shown {time.time():.6f} torch-loaded={'torch' in sys.modules}", flush=True)

    def ready(*_args) -> None:
        print(f"model-{service.state.value} {time.time():.6f}", flush=True)
        window.close()
        QApplication.instance().quit()

    QTimer.singleShot(0, shown)
    service.modelLoaded.connect(ready)
    service.modelFailed.connect(ready)


def _run(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.self_check:
        return self_check(args.self_check[0], args.self_check[1], args.model, args.device)
    return main(args.files, model=args.model, device=args.device)


def run() -> None:
    """The ``maskingnet-app`` console script."""
    sys.exit(_run(sys.argv[1:]))


if __name__ == "__main__":
    run()
