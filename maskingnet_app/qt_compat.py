"""Work-arounds for bugs of the Qt binding in use.

PySide6 6.12.0 returns ``None`` from every void method without taking a reference to it. On
Python 3.12+ that is harmless (None is immortal, PEP 683); on Python 3.10 and 3.11 each such
call drops a reference that was never taken, and after a few thousand calls (seconds of
painting) the interpreter aborts with "Fatal Python error: none_dealloc: deallocating None".
``protect_none`` detects the fault and gives None a reference count that no program can use
up, which is what Python 3.12 does for it.
"""

from __future__ import annotations

import ctypes
import sys

# 2**40 leaked references: at a million void Qt calls a second, 12 days of work
_RESERVE = 1 << 40


def binding_drops_none() -> bool:
    """True when a void PySide6 call loses a reference to None (the fault described above)."""
    from PySide6.QtCore import QRect

    rect = QRect()
    before = sys.getrefcount(None)
    for _ in range(8):
        rect.setWidth(1)
    return sys.getrefcount(None) < before


def protect_none() -> bool:
    """Make None practically immortal where the binding needs it; True when it was applied."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython" or hasattr(sys, "getobjects"):
        return False  # immortal already, or a build whose object layout differs (Py_TRACE_REFS)
    if getattr(protect_none, "applied", False) or not binding_drops_none():
        return False
    refcount = ctypes.c_ssize_t.from_address(id(None))  # ob_refcnt is the object's first field
    refcount.value += _RESERVE
    protect_none.applied = True
    return True
