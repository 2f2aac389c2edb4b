"""The pen's primitives for the non-digit drawings: strokes of control points in training.ml.strokes' unit box
(a line with sharp corners, a smooth curve, an ellipse, a filled dot, a scalloped outline, a spiral), moving and
turning whole shapes, and ``fitted``, which scales a shape into the box."""

import itertools
import math
from collections.abc import Callable

import numpy as np

from training.ml.strokes import Point, Stroke, arc

MAX_ASPECT = 1.6    # a wider shape is fitted by its width: a "~" stays a small squiggle, not a 1-tall wave

Shape = list[Stroke]


def line(*points: Point) -> Stroke:
    """One pen-down through ``points`` with a sharp corner at each (each segment is bent on its own)."""
    return [[a, b] for a, b in itertools.pairwise(points)]


def curve(*points: Point) -> Stroke:
    """One pen-down smoothly through ``points``."""
    return [list(points)]


def ellipse(cx: float, cy: float, rx: float, ry: float, start: float = -90, steps: int = 24) -> Stroke:
    """A closed loop, drawn from angle ``start`` (degrees, y down) round once."""
    return [arc(cx, cy, rx, ry, start, start + 360, steps)]


def dot(cx: float, cy: float, size: float = 0.045) -> Stroke:
    """A dot as a hand makes one that should be seen: a small tight spiral, filled in."""
    return [arc(cx, cy, size, size, 0, 540, 12, end_scale=0.2)]


def points_of(shape: Shape) -> np.ndarray:
    return np.array([point for stroke in shape for segment in stroke for point in segment], dtype=np.float64)


def transformed(shape: Shape, function: Callable[[float, float], Point]) -> Shape:
    return [[[function(x, y) for x, y in segment] for segment in stroke] for stroke in shape]


def rotated(shape: Shape, degrees: float, centre: Point = (0.5, 0.5)) -> Shape:
    cos, sin = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    cx, cy = centre
    return transformed(shape, lambda x, y: (cx + (x - cx) * cos - (y - cy) * sin, cy + (x - cx) * sin + (y - cy) * cos))


def fitted(shape: Shape, max_aspect: float = MAX_ASPECT) -> Shape:
    """``shape`` scaled into training.ml.strokes' unit box: 1 tall (x centred on 0.5), or, when it is wider than
    ``max_aspect`` times its height, ``max_aspect`` wide. ``bend`` measures its wobble in these units."""
    points = points_of(shape)
    low, high = points.min(0), points.max(0)
    width, height = high - low
    scale = 1.0 / max(height, width / max_aspect, 1e-6)
    x_shift = 0.5 - width * scale / 2
    return transformed(shape, lambda x, y: (x_shift + (x - low[0]) * scale, (y - low[1]) * scale))


def scalloped(cx: float, cy: float, rx: float, ry: float, bumps: int, depth: float, steps: int = 96) -> Stroke:
    """A closed outline of ``bumps`` round bulges (a cloud, a tree's crown): each bulge a half-sine outwards,
    meeting the next at a notch."""
    points = []
    for t in np.linspace(0, 2 * math.pi, steps + 1):
        k = 1 + depth * abs(math.sin(bumps * t / 2))
        points.append((cx + rx * k * math.cos(t - math.pi / 2), cy + ry * k * math.sin(t - math.pi / 2)))
    return [points]


def spiral_points(cx: float, cy: float, radius: float, turns: float, inner: float, clockwise: bool,
                  start: float = 0.0) -> list[Point]:
    steps = max(12, int(turns * 24))
    sign = 1 if clockwise else -1
    return [(cx + r * math.cos(start + sign * a), cy + r * math.sin(start + sign * a))
            for a, r in zip(np.linspace(0, 2 * math.pi * turns, steps), np.linspace(inner, radius, steps))]
