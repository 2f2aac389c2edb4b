"""Drawing with a pen: strokes of control points bent the way hands bend them, drawn as a browser canvas draws.

A shape is a few strokes of control points in a unit box (x right, y down; the shape is 1 tall). ``render``
bends one randomly the way hands do (slant, tilt, width, wobble at every control point), smooths it, and draws it
with an anti-aliased round pen on a canvas at a random size and place: dark ink on a transparent background, as
``toDataURL()`` gives. With ``mouse`` it is drawn as a drawing app without smoothing draws it: straight lines
between sparse pointer events. No Django: the benches draw digits with it, training draws non-digits.
"""

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

Point = tuple[float, float]
# A stroke is one pen-down: segments smoothed separately and joined at sharp corners.
Stroke = list[list[Point]]

SUPERSAMPLE = 4             # drawn at 4x and box-reduced: anti-aliased edges, as a canvas draws them
PAGE_PEN = 1 / 14           # the page's pen width, as a fraction of the canvas side (pad.js LINE_WIDTH)
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


MOUSE_STEP = (0.08, 0.18)   # the distance between pointer events, in shape heights: a quick hand at 60 Hz


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


def catmull_rom(points: list[Point], per_span: int = 8) -> list[Point]:
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


def bend(strokes: list[Stroke], rng: np.random.Generator, hand: Hand) -> list[list[Point]]:
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
            smooth = catmull_rom([move(x, y) for x, y in wobbled])
            line.extend(smooth[1:] if line else smooth)
        bent.append(line)
    return bent


def place(lines: list[list[Point]], side: int, rng: np.random.Generator, pen: float,
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


def draw_lines(lines: list[list[Point]], side: int, pen: float) -> Image.Image:
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


def sampled(lines: list[list[Point]], rng: np.random.Generator) -> list[list[Point]]:
    """Each line cut down to the points a pointer event reported, evenly spaced along it, plus its ends."""
    step = rng.uniform(*MOUSE_STEP)
    sparse = []
    for line in lines:
        p = np.asarray(line)
        along = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(p, axis=0).T))])
        at = np.concatenate([[0.0], np.arange(rng.uniform(0, step), along[-1], step), [along[-1]]])
        sparse.append(list(zip(np.interp(at, along, p[:, 0]), np.interp(at, along, p[:, 1]))))
    return sparse


def render(strokes: list[Stroke], rng: np.random.Generator, hand: Hand = ANY_HAND, *, mouse: bool = False
           ) -> Image.Image:
    """``strokes`` drawn by ``hand`` on a canvas of the page's or another app's size, with its pen."""
    side = int(rng.integers(CANVAS_SIDES[0], CANVAS_SIDES[1] + 1)) if rng.random() < hand.other_canvas_share else 280
    pen = side * (PAGE_PEN if rng.random() < hand.page_pen_share else rng.uniform(*OTHER_PENS))
    lines = bend(strokes, rng, hand)
    if mouse:
        lines = sampled(lines, rng)
    return draw_lines(place(lines, side, rng, pen, hand.height_fraction), side, pen)


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
