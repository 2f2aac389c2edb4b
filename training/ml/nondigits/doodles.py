"""Doodles: faces, a house, a stick figure, a sun, trees, animals, things."""

import math
from collections.abc import Callable

import numpy as np

from training.ml.strokes import arc

from .geometry import Shape, curve, dot, ellipse, line, scalloped, spiral_points


def _eyes(rng: np.random.Generator, y: float = 0.35, apart: float = 0.17) -> Shape:
    if rng.random() < 0.5:
        return [dot(0.5 - apart, y, 0.05), dot(0.5 + apart, y, 0.05)]
    return [line((0.5 + side * apart, y - 0.07), (0.5 + side * apart, y + 0.07)) for side in (-1, 1)]


def _face(rng: np.random.Generator, smiling: bool) -> Shape:
    width = rng.uniform(0.18, 0.3)
    if smiling:
        mouth = [arc(0.5, 0.55, width, rng.uniform(0.12, 0.22), 20, 160, 10)]
    else:
        mouth = [arc(0.5, 0.82, width, rng.uniform(0.1, 0.17), 200, 340, 10)]
    return [ellipse(0.5, 0.5, 0.5, 0.5, start=rng.uniform(-120, -60), steps=28), *_eyes(rng), mouth]


def _house(rng: np.random.Generator) -> Shape:
    shape = [line((0.1, 0.45), (0.1, 1), (0.9, 1), (0.9, 0.45)), line((0.02, 0.5), (0.5, 0), (0.98, 0.5))]
    if rng.random() < 0.8:
        shape.append(line((0.42, 1), (0.42, 0.7), (0.58, 0.7), (0.58, 1)))
    if rng.random() < 0.6:
        shape.append(line((0.66, 0.55), (0.8, 0.55), (0.8, 0.68), (0.66, 0.68), (0.66, 0.55)))
    if rng.random() < 0.4:
        shape.append(line((0.72, 0.25), (0.72, 0.05), (0.82, 0.05), (0.82, 0.34)))  # a chimney
    return shape


def _stick_figure(rng: np.random.Generator) -> Shape:
    arms = (line((0.15, 0.42), (0.5, 0.45), (0.85, 0.42)) if rng.random() < 0.5
            else line((0.2, 0.25), (0.5, 0.45), (0.8, 0.25)))
    return [ellipse(0.5, 0.14, 0.12, 0.14, steps=16), line((0.5, 0.28), (0.5, 0.68)), arms,
            line((0.25, 1), (0.5, 0.68), (0.75, 1))]


def _sun(rng: np.random.Generator) -> Shape:
    rays = int(rng.integers(7, 13))
    turn = rng.uniform(0, 2 * math.pi)
    shape = [ellipse(0.5, 0.5, 0.22, 0.22, steps=18)]
    for k in range(rays):
        angle = turn + 2 * math.pi * k / rays
        shape.append(line((0.5 + 0.3 * math.cos(angle), 0.5 + 0.3 * math.sin(angle)),
                          (0.5 + 0.5 * math.cos(angle), 0.5 + 0.5 * math.sin(angle))))
    return shape


def _spiral(rng: np.random.Generator) -> Shape:
    points = spiral_points(0.5, 0.5, 0.5, rng.uniform(2.5, 4.5), rng.uniform(0.0, 0.06), rng.random() < 0.5,
                           rng.uniform(0, 2 * math.pi))
    if rng.random() < 0.5:
        points.reverse()  # drawn from the outside in
    return [[points]]


def _tree(rng: np.random.Generator) -> Shape:
    return [scalloped(0.5, 0.36, 0.36, 0.3, int(rng.integers(7, 11)), 0.2),
            line((0.42, 1), (0.44, 0.62)), line((0.58, 1), (0.56, 0.62))]


def _pine_tree(rng: np.random.Generator) -> Shape:
    return [line((0.5, 0), (0.25, 0.3), (0.4, 0.3), (0.15, 0.6), (0.35, 0.6), (0.05, 0.85), (0.95, 0.85),
                 (0.65, 0.6), (0.85, 0.6), (0.6, 0.3), (0.75, 0.3), (0.5, 0)),
            line((0.43, 0.85), (0.43, 1), (0.57, 1), (0.57, 0.85))]


def _cloud(rng: np.random.Generator) -> Shape:
    return [scalloped(0.5, 0.5, 0.5, 0.3, int(rng.integers(5, 9)), 0.35)]


def _fish(rng: np.random.Generator) -> Shape:
    body = curve((1.0, 0.2), (0.75, 0.5), (0.45, 0.22), (0.15, 0.3), (0.0, 0.5), (0.15, 0.7), (0.45, 0.78),
                 (0.75, 0.5), (1.0, 0.8))
    return [[body[0], [(1.0, 0.8), (1.0, 0.2)]], dot(0.2, 0.45, 0.04)]


def _flower(rng: np.random.Generator) -> Shape:
    petals = int(rng.integers(5, 9))
    centre, radius = (0.5, 0.33), 0.1
    ring = [(centre[0] + (radius + 0.22 * abs(math.sin(petals * t / 2))) * math.cos(t),
             centre[1] + (radius + 0.22 * abs(math.sin(petals * t / 2))) * math.sin(t))
            for t in np.linspace(0, 2 * math.pi, petals * 12 + 1)]
    shape = [[ring], ellipse(*centre, radius, radius, steps=12), curve((0.5, 0.66), (0.48, 0.85), (0.5, 1.0))]
    if rng.random() < 0.6:
        shape.append([arc(0.62, 0.8, 0.12, 0.06, 180, 540, 12)])  # a leaf
    return shape


def _cat_face(rng: np.random.Generator) -> Shape:
    whiskers = [line((0.5 + side * 0.15, 0.66 + dy), (0.5 + side * 0.5, 0.6 + 2 * dy))
                for side in (-1, 1) for dy in (-0.04, 0.04)]
    return [ellipse(0.5, 0.58, 0.4, 0.38, steps=26), line((0.16, 0.4), (0.18, 0.0), (0.4, 0.22)),
            line((0.6, 0.22), (0.82, 0.0), (0.84, 0.4)), *_eyes(rng, 0.5, 0.16),
            line((0.45, 0.64), (0.5, 0.7), (0.55, 0.64)), *whiskers]


def _car(rng: np.random.Generator) -> Shape:
    return [line((0.12, 0.78), (0, 0.78), (0, 0.5), (0.2, 0.45), (0.3, 0.2), (0.7, 0.2), (0.8, 0.45), (1, 0.5),
                 (1, 0.78), (0.88, 0.78)), line((0.38, 0.78), (0.62, 0.78)),
            ellipse(0.25, 0.82, 0.12, 0.12, steps=14), ellipse(0.75, 0.82, 0.12, 0.12, steps=14)]


def _boat(rng: np.random.Generator) -> Shape:
    return [line((0, 0.62), (1, 0.62), (0.8, 0.92), (0.2, 0.92), (0, 0.62)), line((0.5, 0.62), (0.5, 0)),
            line((0.5, 0.05), (0.88, 0.52), (0.5, 0.52))]


def _umbrella(rng: np.random.Generator) -> Shape:
    """A canopy, its hem scalloped between the ribs' ends, and a hooked handle."""
    hem = [arc(cx, 0.45, 0.125, 0.08, 0, -180, 6) for cx in (0.875, 0.625, 0.375, 0.125)]
    return [[arc(0.5, 0.45, 0.5, 0.42, 180, 360, 16), *hem],
            [[(0.5, 0.45), (0.5, 0.88)], arc(0.4, 0.88, 0.1, 0.1, 0, 180, 8)]]


def _lightning(rng: np.random.Generator) -> Shape:
    return [line((0.55, 0), (0.2, 0.55), (0.48, 0.55), (0.3, 1), (0.85, 0.4), (0.57, 0.4), (0.78, 0), (0.55, 0))]


def _envelope(rng: np.random.Generator) -> Shape:
    return [line((0, 0.2), (1, 0.2), (1, 0.85), (0, 0.85), (0, 0.2)), line((0, 0.2), (0.5, 0.58), (1, 0.2))]


def _eye(rng: np.random.Generator) -> Shape:
    shape = [[arc(0.5, 0.85, 0.58, 0.55, 213, 327, 14)], [arc(0.5, 0.15, 0.58, 0.55, 147, 33, 14)],
             ellipse(0.5, 0.5, 0.16, 0.17, steps=14), dot(0.5, 0.5, 0.06)]
    if rng.random() < 0.5:  # lashes
        for x in (0.3, 0.5, 0.7):
            lid = 0.3 - 0.2 * (1 - abs(x - 0.5) * 2.4)  # roughly where the upper lid is at x
            shape.append(line((x, lid), (x + (x - 0.5) * 0.3, lid - 0.12)))
    return shape


def _tic_tac_toe(rng: np.random.Generator) -> Shape:
    shape = [line((0.33, 0), (0.33, 1)), line((0.67, 0), (0.67, 1)),
             line((0, 0.33), (1, 0.33)), line((0, 0.67), (1, 0.67))]
    cells = rng.choice(9, size=int(rng.integers(1, 6)), replace=False)
    for turn, cell in enumerate(cells):
        cx, cy = 0.165 + 0.335 * (cell % 3), 0.165 + 0.335 * (cell // 3)
        if turn % 2 == 0:
            shape += [line((cx - 0.06, cy - 0.06), (cx + 0.06, cy + 0.06)),
                      line((cx + 0.06, cy - 0.06), (cx - 0.06, cy + 0.06))]
        else:
            shape.append(ellipse(cx, cy, 0.07, 0.07, steps=12))
    return shape


def _box_with_cross(rng: np.random.Generator) -> Shape:
    return [line((0, 0), (1, 0), (1, 1), (0, 1), (0, 0)), line((0, 0), (1, 1)), line((1, 0), (0, 1))]


def _target(rng: np.random.Generator) -> Shape:
    """Rings round a bull's-eye; two rings and no bull's-eye would be a 0 drawn twice."""
    rings = int(rng.integers(2, 4))
    return [dot(0.5, 0.5, 0.07)] + [ellipse(0.5, 0.5, 0.5 * (k + 1) / rings, 0.5 * (k + 1) / rings,
                                            start=rng.uniform(-180, 180)) for k in range(rings)]


def _glasses(rng: np.random.Generator) -> Shape:
    return [ellipse(0.25, 0.55, 0.2, 0.18, steps=18), ellipse(0.75, 0.55, 0.2, 0.18, steps=18),
            curve((0.45, 0.5), (0.5, 0.44), (0.55, 0.5)), line((0.05, 0.5), (0, 0.35)), line((0.95, 0.5), (1, 0.35))]


def _ladder(rng: np.random.Generator) -> Shape:
    rungs = int(rng.integers(4, 7))
    shape = [line((0.25, 0), (0.25, 1)), line((0.75, 0), (0.75, 1))]
    return shape + [line((0.25, y), (0.75, y)) for y in np.linspace(0.12, 0.88, rungs)]


def _window(rng: np.random.Generator) -> Shape:
    return [line((0, 0), (1, 0), (1, 1), (0, 1), (0, 0)), line((0.5, 0), (0.5, 1)), line((0, 0.5), (1, 0.5))]


def _cup(rng: np.random.Generator) -> Shape:
    shape = [[[(0.05, 0.3), (0.1, 0.9)], [(0.1, 0.9), (0.7, 0.9)], [(0.7, 0.9), (0.75, 0.3)]],
             line((0.05, 0.3), (0.75, 0.3)), [arc(0.75, 0.55, 0.18, 0.15, -90, 90, 10)]]
    if rng.random() < 0.6:  # steam
        shape += [curve((x, 0.2), (x + 0.05, 0.12), (x - 0.03, 0.06), (x + 0.02, 0.0)) for x in (0.25, 0.45)]
    return shape


def _mountains(rng: np.random.Generator) -> Shape:
    peaks = int(rng.integers(2, 4))
    xs = np.linspace(0, 1, 2 * peaks + 1)
    outline = [(x, 1.0 if k in (0, 2 * peaks) else (rng.uniform(0, 0.3) if k % 2 else rng.uniform(0.45, 0.7)))
               for k, x in enumerate(xs)]
    return [line(*outline, (0, 1.0))]


def _crown(rng: np.random.Generator) -> Shape:
    return [line((0, 1), (0, 0.3), (0.25, 0.65), (0.5, 0.1), (0.75, 0.65), (1, 0.3), (1, 1), (0, 1))]


def _clock(rng: np.random.Generator) -> Shape:
    hour, minute = rng.uniform(0, 2 * math.pi, size=2)
    shape = [ellipse(0.5, 0.5, 0.5, 0.5, steps=28),
             line((0.5 + 0.25 * math.cos(hour), 0.5 + 0.25 * math.sin(hour)), (0.5, 0.5),
                  (0.5 + 0.38 * math.cos(minute), 0.5 + 0.38 * math.sin(minute)))]
    ticks = [line((0.5 + 0.4 * cos, 0.5 + 0.4 * sin), (0.5 + 0.46 * cos, 0.5 + 0.46 * sin))
             for cos, sin in ((1, 0), (0, 1), (-1, 0), (0, -1))]  # at 3, 6, 9 and 12
    return shape + ticks


DOODLES: dict[str, Callable[[np.random.Generator], Shape]] = {
    "smiley": lambda rng: _face(rng, smiling=True),
    "sad face": lambda rng: _face(rng, smiling=False),
    "house": _house,
    "stick figure": _stick_figure,
    "sun": _sun,
    "spiral": _spiral,
    "tree": _tree,
    "pine tree": _pine_tree,
    "cloud": _cloud,
    "fish": _fish,
    "flower": _flower,
    "cat face": _cat_face,
    "car": _car,
    "boat": _boat,
    "umbrella": _umbrella,
    "lightning": _lightning,
    "envelope": _envelope,
    "eye": _eye,
    "tic-tac-toe": _tic_tac_toe,
    "box with a cross": _box_with_cross,
    "target": _target,
    "glasses": _glasses,
    "ladder": _ladder,
    "window": _window,
    "cup": _cup,
    "mountains": _mountains,
    "crown": _crown,
    "clock": _clock,
}
