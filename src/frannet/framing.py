"""An exact output size for a picture of another shape, as image tools do: stretch it to the
box (the default), fit it inside the box with its aspect kept, or fill the box with its aspect
kept and cut the centre."""

from __future__ import annotations

ASPECTS = ("stretch", "fit", "fill")
STRETCH_NOTED = 0.01  # a stretch that changes the aspect ratio by more than this is worth a note


def framed(width: int, height: int, box: tuple[int, int],
           aspect: str = "stretch") -> tuple[tuple[int, int], tuple[int, int, int, int] | None]:
    """For a ``width`` x ``height`` picture and a ``box`` (w, h): the size (w, h) to restore it to,
    and the window (x0, y0, x1, y1) of that to keep, or None for all of it (``fill`` only)."""
    if aspect not in ASPECTS:
        raise ValueError(f"aspect must be one of {', '.join(ASPECTS)}, got {aspect!r}")
    box_w, box_h = box
    if not all(int(v) == v >= 1 for v in box):
        raise ValueError(f"size must be two positive integers, got {box!r}")
    if aspect == "stretch":
        return (box_w, box_h), None
    scale = (min if aspect == "fit" else max)(box_w / width, box_h / height)
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    if aspect == "fit":
        return (min(w, box_w), min(h, box_h)), None
    w, h = max(w, box_w), max(h, box_h)
    x0, y0 = (w - box_w) // 2, (h - box_h) // 2
    return (w, h), (x0, y0, x0 + box_w, y0 + box_h)


def aspect_change(width: int, height: int, box: tuple[int, int]) -> float:
    """The relative change of the aspect ratio when a ``width`` x ``height`` picture is stretched to ``box``."""
    return abs(box[0] * height / (box[1] * width) - 1)
