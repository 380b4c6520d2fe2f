"""The MaskingNet desktop app (PySide6). The only package that imports Qt; torch loads lazily."""

from maskingnet_app.qt_compat import protect_none

protect_none()
