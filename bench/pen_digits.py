"""Digits drawn with a pen, in the handwriting styles people use, rendered as the page's canvas posts them.

MNIST's digits are American pencil handwriting, scanned. People on the page draw with a round pen of one
width, smoothly, and not all of them write like MNIST's writers: a 1 with a flag and a base, a slashed 0, a
crossed 7, an open 4, a 9 with a straight stem, an 8 made of two circles. Each shape here is a few strokes of
control points in a unit box (x right, y down; the digit is 1 tall). A sample bends one randomly the way hands
do (slant, tilt, width, wobble at every control point), smooths it, and draws it with an anti-aliased round pen
on a canvas at a random size and place: dark ink on a transparent background, as ``toDataURL()`` gives. The
mouse styles draw some shapes as a drawing app without smoothing does: straight lines between sparse pointer
events.

None of this is used in training, so it measures how the network copes with drawings unlike its data.
"""

import math
import zlib
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from training.ml.strokes import ANY_HAND, CANVAS_SIDES, Hand, Point, Stroke, arc, png
from training.ml.strokes import render as draw

__all__ = ["ANY_HAND", "CANVAS_SIDES", "STYLES", "Hand", "PenSample", "arc", "iter_pen_digits", "render"]


def _figure_eight(top_width: float, bottom_width: float, steps: int = 40) -> list[Point]:
    """An 8 in one stroke: down the right of the top loop, across, round the bottom loop and back up."""
    points = []
    for t in np.linspace(-0.35, 2 * math.pi + 0.15, steps):
        y = 0.5 - 0.5 * math.cos(t)
        width = top_width if y < 0.5 else bottom_width
        points.append((0.5 + width * math.sin(2 * t), y))
    return points


SHAPES: dict[str, tuple[int, list[Stroke]]] = {
    "0 oval": (0, [[arc(0.5, 0.5, 0.3, 0.5, -100, 275, 24)]]),
    "0 round": (0, [[arc(0.5, 0.5, 0.42, 0.5, -100, 270, 24)]]),
    "0 slashed": (0, [[arc(0.5, 0.5, 0.32, 0.5, -100, 275, 24)], [[(0.78, 0.1), (0.22, 0.9)]]]),
    "0 open": (0, [[arc(0.5, 0.5, 0.32, 0.5, -75, 250, 24)]]),
    "0 overlapping": (0, [[arc(0.5, 0.5, 0.3, 0.48, -100, 320, 28, end_scale=1.12)]]),
    "1 stroke": (1, [[[(0.52, 0.0), (0.48, 1.0)]]]),
    "1 flag": (1, [[[(0.28, 0.24), (0.56, 0.0)], [(0.56, 0.0), (0.53, 1.0)]]]),
    "1 flag and base": (1, [[[(0.3, 0.22), (0.55, 0.0)], [(0.55, 0.0), (0.53, 1.0)]],
                            [[(0.28, 1.0), (0.8, 1.0)]]]),
    "1 long base": (1, [[[(0.52, 0.0), (0.5, 1.0)]], [[(0.22, 1.0), (0.78, 1.0)]]]),
    "2 plain": (2, [[arc(0.5, 0.28, 0.3, 0.28, 195, 385, 10) + [(0.45, 0.68), (0.2, 1.0)],
                     [(0.2, 1.0), (0.85, 0.99)]]]),
    "2 looped": (2, [[arc(0.5, 0.28, 0.3, 0.28, 195, 385, 10) + [(0.45, 0.66), (0.26, 0.88)]
                      + arc(0.33, 0.93, 0.09, 0.07, 200, 560, 10)[1:] + [(0.6, 0.97), (0.85, 0.96)]]]),
    "2 angular": (2, [[[(0.2, 0.12), (0.5, 0.0), (0.78, 0.12)], [(0.78, 0.12), (0.2, 1.0)],
                       [(0.2, 1.0), (0.85, 1.0)]]]),
    "2 curly start": (2, [[arc(0.3, 0.3, 0.08, 0.08, 90, -180, 8) + arc(0.5, 0.28, 0.3, 0.28, 190, 385, 10)[1:]
                           + [(0.45, 0.68), (0.2, 1.0)], [(0.2, 1.0), (0.85, 0.99)]]]),
    "3 round": (3, [[arc(0.47, 0.25, 0.28, 0.25, 200, 450, 12), arc(0.47, 0.75, 0.32, 0.25, 270, 520, 12)]]),
    "3 flat top": (3, [[[(0.2, 0.0), (0.78, 0.0)], [(0.78, 0.0), (0.42, 0.42)],
                        arc(0.47, 0.7, 0.32, 0.28, 245, 520, 12)]]),
    "3 pointy middle": (3, [[arc(0.47, 0.25, 0.28, 0.25, 200, 420, 12) + [(0.3, 0.5)],
                             [(0.3, 0.5)] + arc(0.47, 0.75, 0.32, 0.25, 280, 520, 12)]]),
    "4 closed": (4, [[[(0.62, 0.0), (0.14, 0.68)], [(0.14, 0.68), (0.86, 0.68)]],
                     [[(0.64, 0.0), (0.64, 1.0)]]]),
    "4 one stroke": (4, [[[(0.64, 1.0), (0.64, 0.0)], [(0.64, 0.0), (0.14, 0.66)], [(0.14, 0.66), (0.88, 0.66)]]]),
    "4 open": (4, [[[(0.24, 0.0), (0.2, 0.6)], [(0.2, 0.6), (0.85, 0.6)]], [[(0.66, 0.12), (0.66, 1.0)]]]),
    "4 slanted stem": (4, [[[(0.2, 0.0), (0.16, 0.6)], [(0.16, 0.6), (0.85, 0.6)]], [[(0.76, 0.06), (0.58, 1.0)]]]),
    "4 y-like": (4, [[[(0.18, 0.02), (0.22, 0.42), (0.42, 0.58), (0.7, 0.56), (0.86, 0.5)]],
                     [[(0.74, 0.0), (0.7, 1.0)]]]),
    "4 bar crossing": (4, [[[(0.56, 0.0), (0.1, 0.64)], [(0.1, 0.64), (1.0, 0.64)]], [[(0.58, 0.0), (0.58, 1.0)]]]),
    "5 two strokes": (5, [[[(0.27, 0.0), (0.24, 0.45)], arc(0.48, 0.7, 0.3, 0.28, 235, 520, 12)],
                          [[(0.27, 0.0), (0.8, 0.0)]]]),
    "5 one stroke": (5, [[[(0.8, 0.0), (0.27, 0.0)], [(0.27, 0.0), (0.24, 0.45)],
                          arc(0.48, 0.7, 0.3, 0.28, 235, 520, 12)]]),
    "5 detached flag": (5, [[[(0.27, 0.0), (0.24, 0.45)], arc(0.48, 0.7, 0.3, 0.28, 235, 520, 12)],
                            [[(0.37, -0.02), (0.82, -0.03)]]]),
    "5 sloped flag": (5, [[[(0.27, 0.08), (0.24, 0.45)], arc(0.48, 0.7, 0.3, 0.28, 235, 520, 12)],
                          [[(0.27, 0.08), (0.82, -0.04)]]]),
    "6 curved": (6, [[[(0.72, 0.02), (0.45, 0.18), (0.28, 0.45), (0.22, 0.72)]
                      + arc(0.48, 0.74, 0.27, 0.25, 180, -175, 16)[1:]]]),
    "6 straight": (6, [[[(0.68, 0.0), (0.24, 0.72)] + arc(0.49, 0.75, 0.27, 0.25, 185, -175, 16)[1:]]]),
    "6 small loop": (6, [[[(0.7, 0.0), (0.42, 0.25), (0.3, 0.55), (0.3, 0.85)]
                          + arc(0.45, 0.84, 0.16, 0.16, 180, -175, 12)[1:]]]),
    "6 long stem": (6, [[[(0.66, 0.0), (0.44, 0.22), (0.32, 0.5), (0.3, 0.78)]
                         + arc(0.46, 0.8, 0.17, 0.2, 180, -175, 14)[1:]]]),
    "6 open loop": (6, [[[(0.72, 0.02), (0.45, 0.18), (0.28, 0.45), (0.22, 0.72)]
                         + arc(0.48, 0.74, 0.27, 0.25, 180, -120, 14)[1:]]]),
    "7 plain": (7, [[[(0.2, 0.0), (0.8, 0.0)], [(0.8, 0.0), (0.42, 1.0)]]]),
    "7 crossed": (7, [[[(0.2, 0.0), (0.8, 0.0)], [(0.8, 0.0), (0.42, 1.0)]], [[(0.42, 0.52), (0.8, 0.5)]]]),
    "7 hooked": (7, [[[(0.2, 0.14), (0.2, 0.0)], [(0.2, 0.0), (0.8, 0.0)], [(0.8, 0.0), (0.42, 1.0)]]]),
    "7 curved stem": (7, [[[(0.2, 0.0), (0.8, 0.0)], [(0.8, 0.0), (0.62, 0.35), (0.5, 0.7), (0.47, 1.0)]]]),
    "7 short bar": (7, [[[(0.36, 0.0), (0.78, 0.0)], [(0.78, 0.0), (0.45, 1.0)]]]),
    "8 one stroke": (8, [[_figure_eight(0.22, 0.3)]]),
    "8 two loops": (8, [[arc(0.5, 0.24, 0.22, 0.24, -90, 270, 18)], [arc(0.5, 0.74, 0.29, 0.26, -90, 270, 18)]]),
    "8 small top": (8, [[arc(0.5, 0.2, 0.17, 0.2, -90, 270, 16)], [arc(0.5, 0.7, 0.3, 0.3, -90, 270, 18)]]),
    "8 S and line": (8, [[arc(0.5, 0.25, 0.25, 0.25, -20, -270, 14) + arc(0.5, 0.75, 0.28, 0.25, -90, 160, 14)[1:],
                          [(0.24, 0.83), (0.73, 0.17)]]]),
    "9 straight stem": (9, [[arc(0.45, 0.26, 0.27, 0.26, 5, -355, 16), [(0.72, 0.28), (0.7, 1.0)]]]),
    "9 curved stem": (9, [[arc(0.45, 0.26, 0.27, 0.26, 5, -355, 16),
                           [(0.72, 0.28), (0.71, 0.7), (0.6, 0.94), (0.38, 1.0)]]]),
    "9 hooked": (9, [[arc(0.45, 0.26, 0.27, 0.26, 5, -355, 16),
                      [(0.72, 0.28), (0.72, 0.72), (0.64, 0.93), (0.45, 1.0), (0.3, 0.93), (0.26, 0.82)]]]),
    "9 open loop": (9, [[arc(0.45, 0.26, 0.27, 0.26, -40, -300, 14)], [[(0.73, 0.04), (0.71, 1.0)]]]),
    "9 small loop": (9, [[arc(0.5, 0.19, 0.2, 0.19, 5, -355, 14), [(0.7, 0.2), (0.68, 1.0)]]]),
}

# Some shapes drawn as a mouse in a slow browser reports them: a pointer event every so often and straight
# lines between them, so curves show corners (the page smooths its strokes; other apps do not).
MOUSE_STYLES = {"0 oval, mouse": "0 oval", "2 plain, mouse": "2 plain", "3 round, mouse": "3 round",
                "5 mouse": "5 one stroke", "6 curved, mouse": "6 curved", "8 mouse": "8 one stroke",
                "9 curved, mouse": "9 curved stem"}

STYLES: dict[str, tuple[int, list[Stroke]]] = dict(sorted(
    {**SHAPES, **{name: SHAPES[shape] for name, shape in MOUSE_STYLES.items()}}.items(),
    key=lambda item: item[1][0]))  # by digit; sorted() is stable, so each shape's mouse style follows the shapes


Shapes = dict[str, tuple[int, list[Stroke]]]  # style name -> (label, strokes)


class PenSample(NamedTuple):
    style: str
    label: int
    data: bytes  # a PNG, as the page posts it


def render(style: str, rng: np.random.Generator, hand: Hand = ANY_HAND, shapes: Shapes = STYLES) -> PenSample:
    """One sample of ``shapes[style]`` drawn by ``hand``, as the page posts it."""
    label, strokes = shapes[style]
    return PenSample(style, label, png(draw(strokes, rng, hand, mouse=style in MOUSE_STYLES)))


def iter_pen_digits(count: int, seed: int, styles: list[str] | None = None, *, hand: Hand = ANY_HAND,
                    shapes: Shapes = STYLES) -> Iterator[PenSample]:
    """``count`` samples of every style (of ``shapes``, STYLES unless given), interleaved, reproducible from
    ``seed``. Each style draws from a random stream of its own, keyed on its name, so adding or choosing styles
    changes no other style's samples."""
    chosen = styles or list(shapes)
    streams = {style: np.random.default_rng([seed, zlib.crc32(style.encode())]) for style in chosen}
    for _ in range(count):
        for style in chosen:
            yield render(style, streams[style], hand, shapes)
