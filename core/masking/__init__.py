"""Photo -> mask -> edit -> export: preprocessing, the ``Segmenter``, clean-up, doubt, the mask editor and
its smart tools, the export."""
