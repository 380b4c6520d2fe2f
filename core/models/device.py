"""Device choice (CUDA, then Apple MPS, then CPU) and the precision that is fast on it."""

from __future__ import annotations

import contextlib
from typing import ContextManager

import torch

DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")


def select_device(preference: str = "auto") -> torch.device:
    """Resolve ``auto``/``cuda``/``cuda:N``/``mps``/``cpu``; an unavailable choice raises ValueError."""
    preference = (preference or "auto").lower()
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if preference.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError("CUDA was asked for but no CUDA GPU is available (use --device cpu or auto)")
        return torch.device(preference)
    if preference == "mps":
        if not _mps_available():
            raise ValueError("Apple MPS was asked for but is not available (use --device cpu or auto)")
        return torch.device("mps")
    if preference == "cpu":
        return torch.device("cpu")
    raise ValueError(f"unknown device {preference!r}; choose one of {', '.join(DEVICE_CHOICES)}")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def describe_device(device: torch.device) -> str:
    """A short human label, e.g. 'CUDA: NVIDIA H100' or 'CPU, 2 threads'."""
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple MPS"
    return f"CPU, {torch.get_num_threads()} threads"


def cpu_has_fast_bf16() -> bool:
    """True on CPUs with native bfloat16 arithmetic (AVX512-BF16 or AMX)."""
    cpu = getattr(torch, "cpu", None)
    try:
        return bool(cpu._is_avx512_bf16_supported() or cpu._is_amx_tile_supported())
    except AttributeError:
        return False


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The reduced precision worth using on ``device``, or None for plain float32."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_has_fast_bf16():
        return torch.bfloat16
    return None


def autocast(device: torch.device, dtype: torch.dtype | None) -> ContextManager:
    """``torch.autocast`` for ``dtype``, or a no-op for float32."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
