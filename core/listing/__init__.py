"""Listing-ready photos: the cut-out car on a new background, with a contact shadow, clean edges
and one frame shared by every angle of a car.

``render.render_listing`` composes the steps, each usable alone: ``framing`` (the car's box,
one scale per car), ``decontaminate`` (the car's own colour in its edge band), ``shadow``,
``background``. ``presets`` holds ``ListingSpec`` and the named presets (built-in and the
user's JSON file); ``group_gate`` holds a batch's photos until their car is masked; ``cli``
reads ``maskingnet predict``'s listing options. Imports run one way: nothing here imports
``core.masking.export`` or ``core.batch.pipeline``.
"""
