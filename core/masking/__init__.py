"""Photo -> mask -> edit -> export: the ``Segmenter`` (inference), clean-up, doubt, the mask
editor and its smart tools, the export."""
