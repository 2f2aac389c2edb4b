"""Drawings that are not digits, drawn with the page's pen: what a detector of "not a digit" is trained on.

People post letters, symbols, doodles, scribbles and words to a digit recogniser, and a network trained only on
digits reads each of them as some digit, confidently. Outlier exposure trains a detector on such drawings. Each
family here is a few strokes of control points in a unit box (training.ml.strokes' conventions), a fresh variant
on every call where variation helps (a spiral's turns, a sun's rays, a word's letters), drawn by
``training.ml.strokes.render`` as the page's canvas posts it.

Shapes that really are digits are left out: O, I, l, S, Z, B, b, g, q, T, J, L, U, C and the like read as
0, 1, 5, 2, 8, 6, 9 and 7, so they appear only inside words, where the whole is clearly no single digit. Numbers
of several digits are not drawn either: they are digits, just too many. No Django.
"""

import itertools
import math
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from PIL import Image

from training.ml.strokes import ANY_HAND, Hand, Point, Stroke, arc, render

KINDS = ("letter", "symbol", "doodle", "scribble", "word")
MOUSE_SHARE = 0.15  # drawn as a drawing app without smoothing draws: straight lines between pointer events
MAX_ASPECT = 1.6    # a wider shape is fitted by its width: a "~" stays a small squiggle, not a 1-tall wave
WORD_MAX_ASPECT = 8.0

Shape = list[Stroke]


@dataclass(frozen=True)
class Family:
    name: str
    kind: str
    strokes: Callable[[np.random.Generator], Shape]  # a fresh variant each call, in a unit box


class NonDigit(NamedTuple):
    family: str
    kind: str
    image: Image.Image  # the RGBA canvas, as the page would post it


# --- Geometry ------------------------------------------------------------------------------------------------

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


# --- Glyphs: letters as people print them ------------------------------------------------------------------
# Capitals stand 1 tall (y 0 to 1); small letters sit on the same baseline (y = 1) with their body from
# y = 0.45, ascenders from 0 and descenders to 1.4, so words can set them in a row.

X_TOP, MID = 0.45, 0.725  # the top and the middle of a small letter's body
BODY = (MID, 0.25, 0.275)  # centre y and radii of a small letter's round body


def _upper_bowl() -> list[Point]:
    """The bowl of a P or an R."""
    return arc(0.25, 0.27, 0.35, 0.27, -90, 90, 12)


def _bowl(cx: float, start: float, end: float, steps: int = 16) -> list[Point]:
    return arc(cx, BODY[0], BODY[1], BODY[2], start, end, steps)


CAPITALS: dict[str, list[Shape]] = {
    "A": [[line((0, 1), (0.4, 0), (0.8, 1)), line((0.17, 0.62), (0.63, 0.62))],
          [line((0.4, 0), (0, 1)), line((0.4, 0), (0.8, 1)), line((0.15, 0.6), (0.65, 0.6))]],
    "B": [[line((0, 0), (0, 1)),
           [[(0, 0), (0.25, 0)], arc(0.25, 0.25, 0.3, 0.25, -90, 90, 10), [(0.25, 0.5), (0, 0.5)]],
           [[(0, 0.5), (0.3, 0.5)], arc(0.3, 0.75, 0.34, 0.25, -90, 90, 10), [(0.3, 1), (0, 1)]]]],
    "C": [[[arc(0.45, 0.5, 0.45, 0.5, -40, -320, 18)]]],
    "D": [[line((0, 0), (0, 1)), [[(0, 0), (0.2, 0)], arc(0.2, 0.5, 0.5, 0.5, -90, 90, 16), [(0.2, 1), (0, 1)]]],
          [line((0, 1), (0, 0)),
           [[(0, 0), (0.15, 0.0), (0.55, 0.12), (0.72, 0.5), (0.55, 0.88), (0.15, 1.0), (0, 1)]]]],
    "E": [[line((0.7, 0), (0, 0), (0, 1), (0.7, 1)), line((0, 0.5), (0.55, 0.5))],
          [line((0, 0), (0, 1)), line((0, 0), (0.7, 0)), line((0, 0.5), (0.55, 0.5)), line((0, 1), (0.7, 1))]],
    "F": [[line((0.7, 0), (0, 0), (0, 1)), line((0, 0.48), (0.55, 0.48))]],
    "G": [[[arc(0.45, 0.5, 0.45, 0.5, -40, -345, 18)] + line((0.88, 0.62), (0.9, 0.55), (0.55, 0.55))]],
    "H": [[line((0, 0), (0, 1)), line((0.7, 0), (0.7, 1)), line((0, 0.5), (0.7, 0.5))]],
    "I": [[line((0.1, 0), (0.1, 1))]],
    "J": [[[[(0.5, 0), (0.5, 0.75)], arc(0.28, 0.75, 0.22, 0.25, 0, 180, 10)]]],
    "K": [[line((0, 0), (0, 1)), line((0.65, 0), (0.02, 0.55), (0.7, 1))],
          [line((0, 0), (0, 1)), line((0.65, 0), (0.02, 0.55)), line((0.22, 0.38), (0.7, 1))]],
    "L": [[line((0, 0), (0, 1), (0.6, 1))]],
    "M": [[line((0, 1), (0.05, 0), (0.45, 0.65), (0.85, 0), (0.9, 1))],
          [line((0, 1), (0, 0), (0.45, 0.7), (0.9, 0), (0.9, 1))]],
    "N": [[line((0, 1), (0, 0), (0.7, 1), (0.7, 0))]],
    "O": [[ellipse(0.42, 0.5, 0.42, 0.5)]],
    "P": [[line((0, 0), (0, 1)), [[(0, 0), (0.25, 0)], _upper_bowl(), [(0.25, 0.54), (0, 0.54)]]]],
    "Q": [[ellipse(0.45, 0.5, 0.45, 0.5), line((0.55, 0.68), (0.98, 1.08))]],
    "R": [[line((0, 0), (0, 1)), [[(0, 0), (0.25, 0)], _upper_bowl(), [(0.25, 0.54), (0, 0.54)],
                                  [(0, 0.54), (0.68, 1)]]]],
    "S": [[[arc(0.38, 0.25, 0.35, 0.25, -20, -270, 12), arc(0.38, 0.75, 0.38, 0.25, -90, 160, 12)]]],
    "T": [[line((0, 0), (0.8, 0)), line((0.4, 0), (0.4, 1))]],
    "U": [[[[(0, 0), (0, 0.65)], arc(0.35, 0.65, 0.35, 0.35, 180, 0, 12), [(0.7, 0.65), (0.7, 0)]]]],
    "V": [[line((0, 0), (0.4, 1), (0.8, 0))]],
    "W": [[line((0, 0), (0.25, 1), (0.5, 0.3), (0.75, 1), (1.0, 0))],
          [line((0, 0), (0.2, 1), (0.5, 0), (0.8, 1), (1.0, 0))]],
    "X": [[line((0, 0), (0.75, 1)), line((0.75, 0), (0, 1))]],
    "Y": [[line((0, 0), (0.38, 0.5), (0.38, 1)), line((0.76, 0), (0.38, 0.5))]],
    "Z": [[line((0, 0), (0.7, 0), (0, 1), (0.7, 1))]],
}

SMALL: dict[str, list[Shape]] = {
    "a": [[[_bowl(0.25, -10, -355)], line((0.5, X_TOP), (0.52, 1.0))],
          [[arc(0.25, 0.6, 0.21, 0.15, 200, 360, 8), [(0.46, 0.6), (0.47, 1.0)]],
           [arc(0.26, 0.85, 0.21, 0.15, -30, -330, 14)]]],
    "b": [[line((0, 0), (0, 1)), [_bowl(0.25, 180, -180)]]],
    "c": [[[_bowl(0.25, -40, -320, 14)]]],
    "d": [[[_bowl(0.25, -10, -355)], line((0.5, 0), (0.52, 1.0))]],
    "e": [[[[(0.02, MID), (0.5, MID)], _bowl(0.26, 0, -320)]]],
    "f": [[[[(0.6, 0.08), (0.45, 0.0), (0.3, 0.05), (0.25, 0.25)], [(0.25, 0.25), (0.25, 1.0)]],
           line((0.02, X_TOP), (0.5, X_TOP))]],
    "g": [[[_bowl(0.25, -10, -355)], [[(0.5, X_TOP), (0.5, 1.2)], arc(0.3, 1.2, 0.2, 0.2, 0, 160, 8)]]],
    "h": [[line((0, 0), (0, 1)), [arc(0.25, 0.72, 0.25, 0.25, -180, 0, 10), [(0.5, 0.72), (0.5, 1.0)]]]],
    "i": [[line((0.05, X_TOP), (0.05, 1)), dot(0.05, 0.25)]],
    "j": [[[[(0.25, X_TOP), (0.25, 1.2)], arc(0.05, 1.2, 0.2, 0.2, 0, 150, 8)], dot(0.25, 0.25)]],
    "k": [[line((0, 0), (0, 1)), line((0.42, X_TOP), (0.02, 0.75), (0.45, 1.0))]],
    "l": [[line((0.05, 0), (0.05, 1))]],
    "m": [[line((0, X_TOP), (0, 1)), [arc(0.2, 0.7, 0.2, 0.24, -180, 0, 8), [(0.4, 0.7), (0.4, 1.0)]],
           [arc(0.6, 0.7, 0.2, 0.24, -180, 0, 8), [(0.8, 0.7), (0.8, 1.0)]]]],
    "n": [[line((0, X_TOP), (0, 1)), [arc(0.18, 0.7, 0.18, 0.24, -180, 0, 8), [(0.36, 0.7), (0.37, 1.0)]]]],
    "o": [[ellipse(0.25, MID, 0.25, 0.275, steps=18)]],
    "p": [[line((0, X_TOP), (0, 1.4)), [_bowl(0.25, 180, -180)]]],
    "q": [[[_bowl(0.25, -10, -355)], line((0.5, X_TOP), (0.5, 1.4))]],
    "r": [[line((0, X_TOP), (0, 1)), curve((0, 0.72), (0.1, 0.53), (0.25, 0.45), (0.4, 0.5))]],
    "s": [[[arc(0.2, 0.59, 0.18, 0.14, -20, -270, 10), arc(0.2, 0.86, 0.2, 0.14, -90, 160, 10)]]],
    "t": [[[[(0.2, 0.1), (0.2, 0.88)], arc(0.35, 0.88, 0.15, 0.12, 180, 60, 6)], line((0, X_TOP), (0.42, X_TOP))]],
    "u": [[[[(0, X_TOP), (0, 0.78)], arc(0.22, 0.78, 0.22, 0.22, 180, 0, 10), [(0.44, 0.78), (0.44, X_TOP)]],
           line((0.44, X_TOP), (0.46, 1.0))]],
    "v": [[line((0, X_TOP), (0.22, 1), (0.44, X_TOP))]],
    "w": [[line((0, X_TOP), (0.15, 1), (0.3, 0.6), (0.45, 1), (0.6, X_TOP))]],
    "x": [[line((0, X_TOP), (0.45, 1)), line((0.45, X_TOP), (0, 1))]],
    "y": [[line((0, X_TOP), (0.25, 0.98)), line((0.5, X_TOP), (0.1, 1.4))]],
    "z": [[line((0, X_TOP), (0.45, X_TOP), (0, 1), (0.45, 1))]],
}

GLYPHS: dict[str, list[Shape]] = {**CAPITALS, **SMALL}

# Letters drawn on their own. The rest (O I S Z B T J L U C G; o l i j s z b g q c u p y) pass for digits, alone.
# Small v, w and x are their capitals, smaller: drawn alone they are the same drawing.
LETTERS = ("A", "D", "E", "F", "H", "K", "M", "N", "P", "Q", "R", "V", "W", "X", "Y",
           "a", "d", "e", "f", "h", "k", "m", "n", "r", "t")


def _letter(name: str) -> Callable[[np.random.Generator], Shape]:
    def strokes(rng: np.random.Generator) -> Shape:
        variants = GLYPHS[name]
        return fitted(variants[int(rng.integers(len(variants)))])
    return strokes


# --- Words ---------------------------------------------------------------------------------------------------

WORDS = {
    "word short": ("hi", "no", "ok", "go", "me", "up", "we", "yo", "ah", "hey", "yes", "oh"),
    "word lowercase": ("cat", "dog", "abc", "hello", "test", "sun", "yes", "draw", "hi", "word", "fish", "xyz",
                       "tree", "moon", "love", "cool", "what", "nope", "help", "kiwi"),
    "word uppercase": ("MNIST", "HELLO", "YES", "NO", "ABC", "WOW", "HI", "OK", "TEST", "LOL", "HEY", "DOG", "XYZ"),
    "word capitalised": ("Hello", "Hi", "Cat", "Yes", "Dog", "Test", "No", "Hey", "Why", "Fox", "Ant", "Emma"),
    "word names": ("Anna", "Max", "Tom", "Kim", "Ruth", "Mark", "Nina", "Kate", "Wendy", "Rex", "Fred"),
}


def word(text: str, rng: np.random.Generator) -> Shape:
    """``text`` printed left to right on one baseline, each letter its own size, height and spacing."""
    shape: Shape = []
    left = 0.0
    for character in text:
        variants = GLYPHS[character]
        glyph = variants[int(rng.integers(len(variants)))]
        size, lift = rng.uniform(0.88, 1.1), rng.normal(0, 0.03)
        glyph_left = points_of(glyph)[:, 0].min()
        shape += transformed(glyph, lambda x, y, size=size, lift=lift, left=left, glyph_left=glyph_left: (
            left + (x - glyph_left) * size, 1 + (y - 1) * size + lift))
        left = points_of(shape)[:, 0].max() + rng.uniform(0.15, 0.3)
    return shape


def _word_family(name: str) -> Callable[[np.random.Generator], Shape]:
    def strokes(rng: np.random.Generator) -> Shape:
        texts = WORDS[name]
        return fitted(word(texts[int(rng.integers(len(texts)))], rng), WORD_MAX_ASPECT)
    return strokes


# --- Symbols -------------------------------------------------------------------------------------------------

def _star(rng: np.random.Generator) -> Shape:
    """A five-pointed star in one stroke, from any of its points."""
    first = int(rng.integers(5))
    corners = [(0.5 + 0.5 * math.cos(math.radians(-90 + 144 * (first + k))),
                0.52 + 0.5 * math.sin(math.radians(-90 + 144 * (first + k)))) for k in range(6)]
    return [line(*corners)]


def _hexagram(rng: np.random.Generator) -> Shape:
    def triangle(turn: float) -> Stroke:
        return line(*[(0.5 + 0.5 * math.cos(math.radians(turn + 120 * k)),
                       0.5 + 0.5 * math.sin(math.radians(turn + 120 * k))) for k in range(4)])
    return [triangle(-90), triangle(90)]


def _infinity(rng: np.random.Generator) -> Shape:
    """Bernoulli's lemniscate, a little taller than the true one: hands draw its loops rounder."""
    t = np.linspace(0, 2 * math.pi, 40)
    squeeze = 1 + np.sin(t) ** 2
    points = list(zip(0.5 + 0.5 * np.cos(t) / squeeze, 0.5 + 0.7 * np.sin(t) * np.cos(t) / squeeze))
    return [[points]]


def _tilde(rng: np.random.Generator) -> Shape:
    height = rng.uniform(0.12, 0.22)
    return [[[(x, 0.5 - height * math.sin(2 * math.pi * x)) for x in np.linspace(0, 1, 14)]]]


def _heart(rng: np.random.Generator) -> Shape:
    return [[[(0.5, 1.0), (0.22, 0.7), (0.04, 0.42), (0.03, 0.3)], arc(0.27, 0.28, 0.24, 0.22, 180, 360, 10),
             arc(0.74, 0.28, 0.24, 0.22, 180, 360, 10), [(0.98, 0.3), (0.96, 0.42), (0.78, 0.7), (0.5, 1.0)]]]


def _at(rng: np.random.Generator) -> Shape:
    return [[arc(0.48, 0.52, 0.17, 0.2, -10, -355, 14)],
            [[(0.66, 0.32), (0.67, 0.66)], [(0.67, 0.66), (0.78, 0.72), (0.92, 0.62), (0.98, 0.48)],
             arc(0.5, 0.5, 0.48, 0.5, -10, -300, 24)]]


def _ampersand(rng: np.random.Generator) -> Shape:
    return [[[(0.9, 1.0), (0.55, 0.62), (0.3, 0.35), (0.25, 0.17), (0.38, 0.02), (0.55, 0.05), (0.6, 0.2),
              (0.5, 0.35), (0.2, 0.58), (0.1, 0.8), (0.22, 0.97), (0.45, 1.0), (0.7, 0.8), (0.88, 0.55)]]]


def _note(rng: np.random.Generator) -> Shape:
    """A quaver: a filled head, a stem and a flag; or two heads beamed together."""
    head = [arc(0.25, 0.85, 0.15, 0.11, 0, 720, 20, end_scale=0.15)]
    if rng.random() < 0.5:
        return [head, line((0.4, 0.85), (0.4, 0)), curve((0.4, 0), (0.55, 0.15), (0.72, 0.3), (0.68, 0.5))]
    second = [arc(0.85, 0.75, 0.15, 0.11, 0, 720, 20, end_scale=0.15)]
    return [head, second, line((0.4, 0.85), (0.4, 0.1), (1.0, 0.0), (1.0, 0.75))]


SYMBOLS: dict[str, Callable[[np.random.Generator], Shape]] = {
    "#": lambda rng: [line((0.38, 0), (0.28, 1)), line((0.75, 0), (0.65, 1)), line((0, 0.33), (1, 0.33)),
                      line((0, 0.67), (0.95, 0.67))],
    "%": lambda rng: [line((0.85, 0), (0.15, 1)), ellipse(0.2, 0.18, 0.15, 0.17, steps=14),
                      ellipse(0.8, 0.82, 0.15, 0.17, steps=14)],
    "&": _ampersand,
    "@": _at,
    "*": lambda rng: [line((0.5, 0), (0.5, 1)), line((0.07, 0.25), (0.93, 0.75)), line((0.93, 0.25), (0.07, 0.75))],
    "+": lambda rng: [line((0.5, 0), (0.5, 1)), line((0, 0.5), (1, 0.5))],
    "=": lambda rng: [line((0, 0.3), (1, 0.3)), line((0, 0.7), (1, 0.7))],
    "?": lambda rng: [[arc(0.45, 0.27, 0.33, 0.27, 200, 410, 12), [(0.6, 0.5), (0.47, 0.56), (0.46, 0.72)]],
                      dot(0.46, 0.95, 0.05)],
    "!": lambda rng: [line((0.5, 0), (0.48, 0.7)), dot(0.48, 0.94, 0.06)],
    "$": lambda rng: [[arc(0.38, 0.25, 0.35, 0.25, -20, -270, 12), arc(0.38, 0.75, 0.38, 0.25, -90, 160, 12)],
                      line((0.4, -0.15), (0.4, 1.15))],
    "€": lambda rng: [[arc(0.55, 0.5, 0.45, 0.5, -45, -315, 18)], line((0, 0.4), (0.65, 0.4)),
                      line((0, 0.6), (0.6, 0.6))],
    "star": _star,
    "star of two triangles": _hexagram,
    "heart": _heart,
    "→": lambda rng: [line((0, 0.5), (1, 0.5)), line((0.7, 0.2), (1, 0.5), (0.7, 0.8))],
    "↑": lambda rng: [line((0.5, 1), (0.5, 0)), line((0.15, 0.35), (0.5, 0), (0.85, 0.35))],
    "↙": lambda rng: [line((1, 0), (0, 1)), line((0, 0.55), (0, 1), (0.45, 1))],
    "✓": lambda rng: [line((0, 0.55), (0.3, 1), (1, 0))],
    "×": lambda rng: [line((0, 0), (1, 1)), line((1, 0), (0, 1))],
    "÷": lambda rng: [line((0, 0.5), (1, 0.5)), dot(0.5, 0.12, 0.07), dot(0.5, 0.88, 0.07)],
    "<": lambda rng: [line((0.8, 0), (0, 0.5), (0.8, 1))],
    ">": lambda rng: [line((0, 0), (0.8, 0.5), (0, 1))],
    "~": _tilde,
    "∞": _infinity,
    "π": lambda rng: [curve((0, 0.15), (0.4, 0.05), (1, 0.05)), line((0.3, 0.08), (0.25, 1)),
                      curve((0.7, 0.07), (0.7, 0.7), (0.78, 0.95), (0.9, 0.9))],
    "Σ": lambda rng: [line((0.8, 0), (0, 0), (0.45, 0.5), (0, 1), (0.8, 1))],
    "Δ": lambda rng: [line((0.5, 0), (0, 1), (1, 1), (0.5, 0))],
    "♪": _note,
}


# --- Doodles -------------------------------------------------------------------------------------------------

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


# --- Scribbles -----------------------------------------------------------------------------------------------
# Procedural, and never as simple as one straight line or one loop: those are a 1 and a 0.

def _random_walk(rng: np.random.Generator) -> Shape:
    """A pen wandering with momentum, turning back when it leaves the box."""
    position, heading = rng.uniform(0.2, 0.8, size=2), rng.uniform(0, 2 * math.pi)
    points = [tuple(position)]
    for _ in range(int(rng.integers(14, 26))):
        heading += rng.normal(0, 1.1)
        step = np.array([math.cos(heading), math.sin(heading)]) * rng.uniform(0.15, 0.3)
        if not np.all((0 <= position + step) & (position + step <= 1)):
            heading += math.pi
            step = -step
        position = position + step
        points.append(tuple(position))
    return [[points]]


def _coil(rng: np.random.Generator) -> Shape:
    """Loops along a line, as a pen spun while moving across."""
    loops, radius = rng.uniform(4, 9), rng.uniform(0.18, 0.3)
    length = rng.uniform(1.2, 2.2)
    t = np.linspace(0, 2 * math.pi * loops, int(loops * 14))
    points = [(length * a / t[-1] + radius * math.cos(a + math.pi), 0.5 + radius * 1.3 * math.sin(a)) for a in t]
    return rotated([[points]], rng.uniform(-30, 30))


def _zigzag(rng: np.random.Generator) -> Shape:
    teeth = int(rng.integers(6, 13))
    points = [(k / teeth + rng.normal(0, 0.01), (k % 2) * rng.uniform(0.5, 1.0)) for k in range(teeth + 1)]
    return rotated([line(*points)], rng.uniform(-20, 20) + (90 if rng.random() < 0.25 else 0))


def _hatching(rng: np.random.Generator) -> Shape:
    count = int(rng.integers(5, 10))
    angle = rng.uniform(20, 70) * rng.choice([-1, 1])
    shape = [line((k / count, rng.uniform(0, 0.1)), (k / count + rng.normal(0, 0.01), rng.uniform(0.9, 1.0)))
             for k in range(count)]
    return rotated(shape, angle)


def _cross_hatching(rng: np.random.Generator) -> Shape:
    return _hatching(rng) + rotated(_hatching(rng), 90)


def _blob(rng: np.random.Generator) -> Shape:
    """A patch filled in with the pen going back and forth."""
    rows = int(rng.integers(8, 15))
    rx, ry = rng.uniform(0.3, 0.5), 0.5
    points = []
    for k, y in enumerate(np.linspace(-0.95, 0.95, rows)):
        half = rx * math.sqrt(1 - y * y) * rng.uniform(0.85, 1.05)
        points.append((0.5 + (half if k % 2 else -half), 0.5 + ry * y))
    return rotated([curve(*points)], rng.uniform(0, 180))


def _tangle(rng: np.random.Generator) -> Shape:
    """A smooth curve crossing itself many times: a few circles of different speeds added together."""
    terms = int(rng.integers(3, 6))
    amplitude, speed = rng.uniform(0.2, 1, (2, terms)), rng.integers(1, 6, (2, terms))
    phase = rng.uniform(0, 2 * math.pi, (2, terms))
    t = np.linspace(0, 2 * math.pi * rng.uniform(0.8, 1.0), 90)
    x = (amplitude[0][:, None] * np.cos(speed[0][:, None] * t + phase[0][:, None])).sum(0)
    y = (amplitude[1][:, None] * np.sin(speed[1][:, None] * t + phase[1][:, None])).sum(0)
    return [[list(zip(x, y))]]


def _scattered_strokes(rng: np.random.Generator) -> Shape:
    shape = []
    for _ in range(int(rng.integers(3, 6))):
        start = rng.uniform(0, 1, size=2)
        heading, length = rng.uniform(0, 2 * math.pi), rng.uniform(0.3, 0.6)
        end = start + length * np.array([math.cos(heading), math.sin(heading)])
        bulge = rng.normal(0, 0.12) * np.array([-math.sin(heading), math.cos(heading)])
        shape.append(curve(tuple(start), tuple((start + end) / 2 + bulge), tuple(end)))
    return shape


def _cross_out(rng: np.random.Generator) -> Shape:
    """The back-and-forth of crossing something out: a wide band of tight sweeps."""
    sweeps = int(rng.integers(5, 10))
    points = [(0.5 + (0.5 if k % 2 else -0.5) * rng.uniform(0.8, 1.0) + k * 0.02, k / sweeps * 0.4)
              for k in range(sweeps + 1)]
    return rotated([curve(*points)], rng.uniform(-15, 15))


def _waves(rng: np.random.Generator) -> Shape:
    count, periods = int(rng.integers(2, 5)), rng.uniform(1.5, 3)
    return [[[(x, 0.25 * k + 0.08 * math.sin(2 * math.pi * periods * x)) for x in np.linspace(0, 1, 30)]]
            for k in range(count)]


SCRIBBLES: dict[str, Callable[[np.random.Generator], Shape]] = {
    "scribble random walk": _random_walk,
    "scribble loops": _coil,
    "scribble zigzag": _zigzag,
    "scribble hatching": _hatching,
    "scribble cross-hatching": _cross_hatching,
    "scribble blob": _blob,
    "scribble tangle": _tangle,
    "scribble scattered strokes": _scattered_strokes,
    "scribble cross-out": _cross_out,
    "scribble waves": _waves,
}


# --- The families --------------------------------------------------------------------------------------------

def _fitted(make: Callable[[np.random.Generator], Shape]) -> Callable[[np.random.Generator], Shape]:
    return lambda rng: fitted(make(rng))


FAMILIES: dict[str, Family] = {
    **{name: Family(name, "letter", _letter(name)) for name in LETTERS},
    **{name: Family(name, "symbol", _fitted(make)) for name, make in SYMBOLS.items()},
    **{name: Family(name, "doodle", _fitted(make)) for name, make in DOODLES.items()},
    **{name: Family(name, "scribble", _fitted(make)) for name, make in SCRIBBLES.items()},
    **{name: Family(name, "word", _word_family(name)) for name in WORDS},
}

# Never drawn in training: how the detector does on these measures what it learned, not what it memorised.
UNSEEN = frozenset({"Q", "k", "&", "♪", "umbrella", "cat face", "clock", "scribble cross-hatching", "word names"})


def training_families() -> list[str]:
    return [name for name in FAMILIES if name not in UNSEEN]


def draw_nondigit(family: str, rng: np.random.Generator, hand: Hand = ANY_HAND) -> Image.Image:
    """One drawing of ``family`` by ``hand``, as the page posts it; some drawn with a mouse."""
    strokes = FAMILIES[family].strokes(rng)
    return render(strokes, rng, hand, mouse=rng.random() < MOUSE_SHARE)


def iter_nondigits(count: int, seed: int, families: list[str] | None = None, *, hand: Hand = ANY_HAND
                   ) -> Iterator[NonDigit]:
    """``count`` drawings of every family (FAMILIES unless chosen), interleaved, reproducible from ``seed``. Each
    family draws from a random stream of its own, keyed on its name, so adding or choosing families changes no
    other family's drawings."""
    chosen = families or list(FAMILIES)
    streams = {name: np.random.default_rng([seed, zlib.crc32(name.encode())]) for name in chosen}
    for _ in range(count):
        for name in chosen:
            yield NonDigit(name, FAMILIES[name].kind, draw_nondigit(name, streams[name], hand))
