"""The app's one way to work off the GUI thread (``maskingnet_app.worker``), and a check that no
other module of the app makes threads of its own."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import pytest

from maskingnet_app.worker import GeneratorWorker, TaskQueue

APP = Path(__file__).resolve().parent.parent / "maskingnet_app"
THREAD_MAKERS = {"QThread", "QThreadPool", "QRunnable", "Thread", "ThreadPoolExecutor"}


def counting(n: int):
    def job(should_stop):
        for i in range(n):
            if should_stop():
                return "stopped"
            yield i
        return "done"

    return job


def _record(worker: GeneratorWorker) -> list:
    seen: list = []
    worker.started.connect(lambda: seen.append("started"))
    worker.yielded.connect(lambda value: seen.append(value))
    worker.returned.connect(lambda value: seen.append(("returned", value)))
    worker.errored.connect(lambda error: seen.append(("errored", type(error).__name__)))
    worker.finished.connect(lambda: seen.append("finished"))
    return seen


def test_a_generator_reports_each_value_then_its_return_value(qtbot):
    worker = GeneratorWorker(counting(3))
    seen = _record(worker)
    on_gui_thread = []
    worker.yielded.connect(lambda _: on_gui_thread.append(threading.current_thread() is threading.main_thread()))
    with qtbot.waitSignal(worker.finished, timeout=10_000):
        worker.start()
    assert seen == ["started", 0, 1, 2, ("returned", "done"), "finished"]
    assert all(on_gui_thread) and worker.wait(1) and not worker.running
    with pytest.raises(RuntimeError, match="runs once"):
        worker.start()


def test_cancel_is_honoured_at_the_next_yield(qtbot):
    release = threading.Event()

    def job(should_stop):
        yield "first"
        release.wait(10)
        while not should_stop():
            yield "more"
        return "stopped"

    worker = GeneratorWorker(job)
    seen = _record(worker)
    worker.yielded.connect(lambda value: (worker.cancel(), release.set()) if value == "first" else None)
    with qtbot.waitSignal(worker.finished, timeout=10_000):
        worker.start()
    assert worker.cancel_requested and seen[-2:] == [("returned", "stopped"), "finished"]


def test_an_error_is_reported_once_then_finished(qtbot):
    def job(should_stop):
        yield 1
        raise ValueError("bad photo")

    worker = GeneratorWorker(job)
    seen = _record(worker)
    with qtbot.waitSignal(worker.finished, timeout=10_000):
        worker.start()
    assert seen == ["started", 1, ("errored", "ValueError"), "finished"]


def test_the_task_queue_runs_tasks_in_turn(qtbot):
    queue = TaskQueue()
    order: list[int] = []
    for i in range(5):
        queue.submit(lambda i=i: order.append(i))
    assert queue.wait(10_000) and queue.idle
    assert order == [0, 1, 2, 3, 4]


def test_no_app_module_but_the_worker_makes_threads():
    found = []
    for path in sorted(APP.rglob("*.py")):
        if path.name == "worker.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
            if name in THREAD_MAKERS:
                found.append(f"{path.relative_to(APP.parent)}:{node.lineno} uses {name}")
    assert not found, "long work goes through maskingnet_app.worker:\n" + "\n".join(found)
