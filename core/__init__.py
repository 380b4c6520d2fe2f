"""MaskingNet's engine: networks, data, training, evaluation and inference. Never imports Qt."""

__version__ = "0.1.0"
