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

import io
import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw

Point = tuple[float, float]
# A stroke is one pen-down: segments smoothed separately and joined at sharp corners.
Stroke = list[list[Point]]

SUPERSAMPLE = 4             # drawn at 4x and box-reduced: anti-aliased edges, as a canvas draws them
PAGE_PEN = 1 / 14           # the page's pen width, as a fraction of the canvas side (draw.js LINE_WIDTH)
OTHER_PENS = (1 / 40, 1 / 9)  # other drawing apps: fine-liners to markers
CANVAS_SIDES = (200, 600)
EDGE = 2                    # pixels between the ink and the canvas's edge, at least
HEIGHT_FRACTION = (0.35, 0.9)  # how much of the canvas the digit fills; people on a drawing pad draw big
SLANT = (-0.15, 0.45)       # horizontal shift of the top against the bottom, in digit heights (+: leaning right)
TILT_DEGREES = 6.0
WIDTH_SCALE = (0.75, 1.3)
WOBBLE = 0.03               # the standard deviation of a corner's displacement, in digit heights
CURVE_WOBBLE = 0.008        # ... and of a point on a curve: a hand does not shake along a curve
WARP = 0.05                 # the amplitude of a smooth warp over the whole digit: loops a bit uneven, lines bowed


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, steps: int = 12,
        end_scale: float = 1.0) -> list[Point]:
    """Points on an ellipse from angle ``start`` to ``end`` in degrees: 0 is right, 90 down (y grows down). With
    ``end_scale`` the radii change steadily to that multiple by the end: a loop that overshoots past its start."""
    return [(cx + rx * k * math.cos(math.radians(a)), cy + ry * k * math.sin(math.radians(a)))
            for a, k in zip(np.linspace(start, end, steps), np.linspace(1.0, end_scale, steps))]


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
MOUSE_STEP = (0.08, 0.18)   # the distance between pointer events, in digit heights: a quick hand at 60 Hz

STYLES: dict[str, tuple[int, list[Stroke]]] = dict(sorted(
    {**SHAPES, **{name: SHAPES[shape] for name, shape in MOUSE_STYLES.items()}}.items(),
    key=lambda item: item[1][0]))  # by digit; sorted() is stable, so each shape's mouse style follows the shapes


Shapes = dict[str, tuple[int, list[Stroke]]]  # style name -> (label, strokes)


@dataclass(frozen=True)
class Hand:
    """The ranges a sample's variation is drawn from. The default is anyone at all; one writer is narrower: a
    slant and size of their own, always the page's canvas and pen."""
    slant: tuple[float, float] = SLANT
    tilt_degrees: tuple[float, float] = (-TILT_DEGREES, TILT_DEGREES)
    width_scale: tuple[float, float] = WIDTH_SCALE
    height_fraction: tuple[float, float] = HEIGHT_FRACTION
    other_canvas_share: float = 0.5  # how often the canvas is 200-600 px rather than the page's 280 px
    page_pen_share: float = 0.5      # how often the pen is the page's rather than another app's


ANY_HAND = Hand()


class PenSample(NamedTuple):
    style: str
    label: int
    data: bytes  # a PNG, as the page posts it


def _catmull_rom(points: list[Point], per_span: int = 8) -> list[Point]:
    """A smooth curve through ``points``, as a hand moving through them draws it."""
    if len(points) < 3:
        return list(points)
    p = np.asarray(points, dtype=np.float64)
    padded = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    curve = [tuple(p[0])]
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1: i + 3]
        for t in np.linspace(0, 1, per_span + 1)[1:]:
            point = 0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                           + (3 * p1 - p0 - 3 * p2 + p3) * t ** 3)
            curve.append(tuple(point))
    return curve


def _bend(strokes: list[Stroke], rng: np.random.Generator, hand: Hand) -> list[list[Point]]:
    """Each stroke as one smooth polyline in digit units, after this hand's slant, tilt, width and wobble."""
    slant = rng.uniform(*hand.slant)
    tilt = math.radians(rng.uniform(*hand.tilt_degrees))
    width = rng.uniform(*hand.width_scale)
    cos, sin = math.cos(tilt), math.sin(tilt)
    waves = rng.uniform(0.4, 1.2, size=(2, 2)), rng.uniform(0, 2 * math.pi, size=(2, 2))
    amplitude = rng.uniform(0, WARP, size=2)

    def move(x: float, y: float) -> Point:
        (fx, fy), (px, py) = waves[0], waves[1]
        x += amplitude[0] * math.sin(2 * math.pi * fx[0] * y + px[0]) * math.sin(2 * math.pi * fx[1] * x + px[1])
        y += amplitude[1] * math.sin(2 * math.pi * fy[0] * x + py[0]) * math.sin(2 * math.pi * fy[1] * y + py[1])
        x = (x - 0.5) * width + slant * (0.5 - y)
        y = y - 0.5
        return (x * cos - y * sin, x * sin + y * cos)

    bent = []
    for stroke in strokes:
        line: list[Point] = []
        corner: Point | None = None  # where the last segment ended, wobbled: the next one starts there
        for segment in stroke:
            shake = WOBBLE if len(segment) <= 4 else CURVE_WOBBLE
            wobbled = [(x + rng.normal(0, shake), y + rng.normal(0, shake)) for x, y in segment]
            if corner is not None:
                wobbled[0] = corner
            corner = wobbled[-1]
            smooth = _catmull_rom([move(x, y) for x, y in wobbled])
            line.extend(smooth[1:] if line else smooth)
        bent.append(line)
    return bent


def _place(lines: list[list[Point]], side: int, rng: np.random.Generator, pen: float,
           height_fraction: tuple[float, float]) -> list[list[Point]]:
    """Scale the digit to a random share of the canvas height and put it at a random place inside it, the whole
    pen's width clear of the edges."""
    xs = [x for line in lines for x, _ in line]
    ys = [y for line in lines for _, y in line]
    width, height = max(max(xs) - min(xs), 1e-6), max(max(ys) - min(ys), 1e-6)
    inner = side - pen - 2 * EDGE  # the room the pen's centre has
    scale = min(rng.uniform(*height_fraction) * side, inner) / height
    scale = min(scale, inner / width)  # a wide digit still fits
    left = pen / 2 + EDGE + rng.uniform(0, max(inner - width * scale, 0.0))
    top = pen / 2 + EDGE + rng.uniform(0, max(inner - height * scale, 0.0))
    return [[(left + (x - min(xs)) * scale, top + (y - min(ys)) * scale) for x, y in line] for line in lines]


def draw_digit(lines: list[list[Point]], side: int, pen: float) -> Image.Image:
    """Round-pen polylines on a transparent ``side`` x ``side`` canvas, dark ink, anti-aliased."""
    big = side * SUPERSAMPLE
    alpha = Image.new("L", (big, big), 0)
    brush = ImageDraw.Draw(alpha)
    width = max(1, round(pen * SUPERSAMPLE))
    radius = width / 2
    for line in lines:
        points = [(x * SUPERSAMPLE, y * SUPERSAMPLE) for x, y in line]
        brush.line(points, fill=255, width=width, joint="curve")
        for x, y in points:  # round caps and joins at every vertex, as the canvas's lineJoin/lineCap "round"
            brush.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    image = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    image.putalpha(alpha.reduce(SUPERSAMPLE))
    return image


def _sampled(lines: list[list[Point]], rng: np.random.Generator) -> list[list[Point]]:
    """Each line cut down to the points a pointer event reported, evenly spaced along it, plus its ends."""
    step = rng.uniform(*MOUSE_STEP)
    sparse = []
    for line in lines:
        p = np.asarray(line)
        along = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(p, axis=0).T))])
        at = np.concatenate([[0.0], np.arange(rng.uniform(0, step), along[-1], step), [along[-1]]])
        sparse.append(list(zip(np.interp(at, along, p[:, 0]), np.interp(at, along, p[:, 1]))))
    return sparse


def render(style: str, rng: np.random.Generator, hand: Hand = ANY_HAND, shapes: Shapes = STYLES) -> PenSample:
    """One sample of ``shapes[style]`` drawn by ``hand``, as the page posts it."""
    label, strokes = shapes[style]
    side = int(rng.integers(CANVAS_SIDES[0], CANVAS_SIDES[1] + 1)) if rng.random() < hand.other_canvas_share else 280
    pen = side * (PAGE_PEN if rng.random() < hand.page_pen_share else rng.uniform(*OTHER_PENS))
    lines = _bend(strokes, rng, hand)
    if style in MOUSE_STYLES:
        lines = _sampled(lines, rng)
    lines = _place(lines, side, rng, pen, hand.height_fraction)
    buffer = io.BytesIO()
    draw_digit(lines, side, pen).save(buffer, format="PNG")
    return PenSample(style, label, buffer.getvalue())


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
