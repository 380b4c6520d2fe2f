"""The MaskingNet desktop app (PySide6). The only package that imports Qt; torch loads lazily."""
