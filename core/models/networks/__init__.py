"""The six segmentation networks of the MaskingNet study."""

from core.models.networks.registry import (
    MODEL_NAMES,
    SIZE_MULTIPLE,
    STUDY_PARAMETER_COUNTS,
    UnknownModelError,
    count_parameters,
    create_model,
)

__all__ = [
    "MODEL_NAMES",
    "SIZE_MULTIPLE",
    "STUDY_PARAMETER_COUNTS",
    "UnknownModelError",
    "count_parameters",
    "create_model",
]
