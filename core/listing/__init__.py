"""Listing-ready photos: the cut-out car on a new background, with a contact shadow, clean
edges and framing shared by every angle of one car.

``render.render_listing`` composes the pieces; ``presets`` holds the named output presets;
``background``, ``shadow``, ``decontaminate`` and ``framing`` are the steps, each usable alone.
"""
