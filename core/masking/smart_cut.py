"""Cut to Edges: a stroke over a wrongly masked blob takes it up to the photo's edges, for blobs that
have the other side's colours (a white wall beside a white car, a dark car behind a dark one),
where the Smart Edges colour model cannot tell the sides apart.

What the brush covers is taken, as with the plain brush or eraser; beyond it a GrabCut in a
window around the stroke decides: the brush's band is sure to be the side the stroke asks for
(and teaches its colours), pixels of the other side within ``CUT_REACH`` brush radii of the
stroke's centre line probably stay, those further away surely; the cut runs along the strongest
photo edges between. Only pixels of the other side within
that reach change. While dragging, the stroke previews as the plain brush or eraser; the cut
happens at the release, and the whole stroke is one undo step. Never imports Qt.
"""

from __future__ import annotations

import cv2
import numpy as np

from core.masking.mask_edit import BRUSH, ERASER, EditDiff, MaskEditor, Rect
from core.masking.smart_tools import EdgeGuide, changed_part, draw_through, grabcut_foreground

CUT_AWAY, CUT_IN = "cut", "cut_in"  # the tool removes car (left button) or adds it (right button)
CUT_REACH = 2.0  # brush radii from the stroke's centre line within which the other side's pixels may change
CUT_SIDE = 256  # the GrabCut works at most this many pixels a side
CUT_ITERATIONS = 2
LABEL = "Cut to Edges"


def cut_values(guide: EdgeGuide, alpha: np.ndarray, points: list[tuple[float, float]], radius: float,
               *, add: bool) -> tuple[Rect, np.ndarray] | None:
    """Cut along the stroke through ``points`` (brush ``radius``) on ``alpha``: (rect, new alpha),
    None when the stroke is off the photo or leaves nothing to decide. ``add``: the stroke marks
    car (background pixels near it may become car); else it marks background."""
    if not points:
        return None
    height, width = alpha.shape
    pad = CUT_REACH * radius + 4
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    rect = Rect(int(min(xs) - pad), int(min(ys) - pad), int(max(xs) + pad) + 1, int(max(ys) + pad) + 1).clip(width, height)
    if rect.width < 2 or rect.height < 2:
        return None
    line = np.ones((rect.height, rect.width), np.uint8)  # zero on the stroke's centre line
    for start, end in zip(points, points[1:] or points):
        cv2.line(line, (round(start[0] - rect.left), round(start[1] - rect.top)),
                 (round(end[0] - rect.left), round(end[1] - rect.top)), 0, 1)
    distance = cv2.distanceTransform(line, cv2.DIST_L2, 3)  # from the centre line
    near = distance <= CUT_REACH * radius
    band = distance <= radius
    car = alpha[rect.slices] >= 128
    other = ~car if add else car  # the side the stroke takes pixels from
    # GrabCut's foreground is the side that keeps its pixels, its background the stroke's side:
    # the brush's band surely (it also teaches the colours of what is taken), near it probably kept
    seeds = np.where(other, cv2.GC_FGD, cv2.GC_BGD).astype(np.uint8)
    seeds[other & near] = cv2.GC_PR_FGD
    seeds[band] = cv2.GC_BGD
    taken = band & other
    if (seeds == cv2.GC_PR_FGD).any():
        kept = grabcut_foreground(guide.rgb[rect.slices], seeds, CUT_SIDE, CUT_ITERATIONS)
        if kept is not None:
            taken |= (kept <= 0.5) & other & near
    if not taken.any():
        return None
    values = alpha[rect.slices].copy()
    values[taken] = 255 if add else 0
    return rect, values


class CutStroke:
    """Cut to Edges on ``editor``: ``to(x, y)`` paints the plain brush (``add``) or eraser as the
    preview; ``flush()`` (at the release) replaces it with the cut, worked out on the mask as the
    stroke found it; ``end()`` makes the whole stroke one undo step. The calls of ``SmartStroke``."""

    def __init__(self, editor: MaskEditor, guide: EdgeGuide, add: bool, size: float) -> None:
        if guide.shape != editor.shape:
            raise ValueError(f"photo {guide.shape} and mask {editor.shape} differ in size")
        self.editor, self.guide, self.add = editor, guide, add
        self.radius = max(0.5, float(size) / 2.0)
        self.points: list[tuple[float, float]] = []
        self._before = editor.alpha.copy()
        self._cut = False
        editor.begin_stroke(BRUSH if add else ERASER, size, label=LABEL)

    def to(self, x: float, y: float) -> Rect | None:
        """Extend the stroke to (x, y); returns the rect the preview changed."""
        self.points.append((float(x), float(y)))
        return self.editor.stroke_to(x, y)

    def flush(self) -> Rect | None:
        """At the release: put the cut in place of the preview, once; returns the rect that changed
        (still within the one stroke). The canvas calls it to repaint before ``end``."""
        if self._cut:
            return None
        self._cut = True
        found = cut_values(self.guide, self._before, self.points, self.radius, add=self.add)
        if found is None:
            return None
        rect, values = changed_part(*found, self.editor.alpha)
        return None if rect.empty else self.editor.stroke_patch(rect, values)

    def end(self) -> EditDiff | None:
        """Cut (unless ``flush`` did) and commit the stroke: one undo step, None when nothing changed."""
        self.flush()
        return self.editor.end_stroke()

    def abort(self) -> Rect | None:
        return self.editor.abort_stroke()


def cut_stroke(editor: MaskEditor, guide: EdgeGuide, add: bool, size: float,
               points: list[tuple[float, float]]) -> EditDiff | None:
    """A whole Cut to Edges stroke through ``points`` as the app draws it: one undo step."""
    return draw_through(CutStroke(editor, guide, add, size), points)
