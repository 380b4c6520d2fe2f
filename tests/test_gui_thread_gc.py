"""Cyclic garbage made on a worker thread is collected on the GUI thread (maskingnet_app.gui_thread_gc)."""

from __future__ import annotations

import gc
import threading

import pytest

from maskingnet_app.gui_thread_gc import GuiThreadCollector


class _Cycle:
    """Half of a reference cycle that records the thread it is finalised on."""

    finalised_on: list[str] = []

    def __init__(self) -> None:
        self.partner = self

    def __del__(self) -> None:
        _Cycle.finalised_on.append(threading.current_thread().name)


@pytest.fixture
def low_threshold():
    """Automatic collection on (as when the app starts; the suite turns it off) at a low threshold."""
    before, enabled = gc.get_threshold(), gc.isenabled()
    gc.set_threshold(10, 10, 10)
    gc.enable()
    yield
    gc.set_threshold(*before)
    if not enabled:
        gc.disable()


def test_cycles_made_on_a_worker_are_collected_on_the_gui_thread(qtbot, low_threshold):
    enabled = gc.isenabled()
    collector = GuiThreadCollector(interval_ms=20)
    collector.start()
    try:
        assert not gc.isenabled()
        _Cycle.finalised_on.clear()

        def make_garbage() -> None:  # far past the threshold: CPython would collect on this thread
            for _ in range(200):
                _Cycle()
                [[] for _ in range(5)]

        worker = threading.Thread(target=make_garbage, name="worker")
        worker.start()
        worker.join()
        assert _Cycle.finalised_on == []  # nothing collected on the worker
        kept = []

        def collected() -> bool:  # allocate while waiting: other threads' frees may have lowered the count
            kept.append([])
            return len(_Cycle.finalised_on) >= 200

        qtbot.waitUntil(collected, timeout=5000)
        assert set(_Cycle.finalised_on) == {threading.main_thread().name}
    finally:
        collector.stop()
    assert gc.isenabled() == enabled


def test_the_oldest_generation_past_its_threshold_is_collected(qtbot, low_threshold):
    collector = GuiThreadCollector()
    collector.start()
    try:
        gc.collect()
        assert collector.collect_due() is None  # nothing due right after a full collection
        for _ in range(30):
            _Cycle()
        assert collector.collect_due() == 0
        for _ in range(12):  # twelve young collections: the middle generation is due
            for _ in range(30):
                _Cycle()
            gc.collect(0)
        assert collector.collect_due() == 1
    finally:
        collector.stop()
