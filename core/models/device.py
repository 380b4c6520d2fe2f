"""Device choice (CUDA, then Apple MPS, then CPU) and the precision that is fast on it.

The one home of the device choices and of "is there a GPU". Torch is imported inside the
functions, so ``DEVICE_CHOICES`` can be read (by the app's menus, before the model loads)
without loading torch.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, ContextManager

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")


def check_device_choice(preference: str) -> str:
    """``preference`` when it is one of ``DEVICE_CHOICES`` (or ``cuda:N``); else ValueError (one line)."""
    if preference in DEVICE_CHOICES or preference.startswith("cuda:"):
        return preference
    raise _unknown_device(preference)


def _unknown_device(preference: str) -> ValueError:
    return ValueError(f"unknown device {preference!r}; choose one of {', '.join(DEVICE_CHOICES)}")


def cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def gpu_available() -> bool:
    """True when CUDA or Apple MPS can run the model (imports torch)."""
    return cuda_available() or mps_available()


def available_devices() -> dict[str, bool]:
    """Which of ``DEVICE_CHOICES`` can be used here (imports torch)."""
    return {"auto": True, "cpu": True, "cuda": cuda_available(), "mps": mps_available()}


def select_device(preference: str = "auto") -> torch.device:
    """Resolve ``auto``/``cuda``/``cuda:N``/``mps``/``cpu``; an unavailable choice raises ValueError."""
    import torch

    preference = (preference or "auto").lower()
    if preference == "auto":
        if cuda_available():
            return torch.device("cuda")
        if mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if preference.startswith("cuda"):
        if not cuda_available():
            raise ValueError("CUDA was asked for but no CUDA GPU is available (use --device cpu or auto)")
        return torch.device(preference)
    if preference == "mps":
        if not mps_available():
            raise ValueError("Apple MPS was asked for but is not available (use --device cpu or auto)")
        return torch.device("mps")
    if preference == "cpu":
        return torch.device("cpu")
    raise _unknown_device(preference)


def describe_device(device: torch.device) -> str:
    """A short human label, e.g. 'CUDA: NVIDIA H100' or 'CPU, 2 threads'."""
    import torch

    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple MPS"
    return f"CPU, {torch.get_num_threads()} threads"


def cpu_has_fast_bf16() -> bool:
    """True on CPUs with native bfloat16 arithmetic (AVX512-BF16 or AMX)."""
    import torch

    cpu = getattr(torch, "cpu", None)
    try:
        return bool(cpu._is_avx512_bf16_supported() or cpu._is_amx_tile_supported())
    except AttributeError:
        return False


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The reduced precision worth using on ``device``, or None for plain float32."""
    import torch

    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_has_fast_bf16():
        return torch.bfloat16
    return None


def autocast(device: torch.device, dtype: torch.dtype | None) -> ContextManager:
    """``torch.autocast`` for ``dtype``, or a no-op for float32."""
    import torch

    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
