"""Letters as people print them, drawn alone (those that cannot pass for a digit) or set in a row as words."""

from collections.abc import Callable

import numpy as np

from training.ml.strokes import Point, arc

from .geometry import Shape, curve, dot, ellipse, fitted, line, points_of, transformed

WORD_MAX_ASPECT = 8.0


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


def letter_family(name: str) -> Callable[[np.random.Generator], Shape]:
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


def word_family(name: str) -> Callable[[np.random.Generator], Shape]:
    def strokes(rng: np.random.Generator) -> Shape:
        texts = WORDS[name]
        return fitted(word(texts[int(rng.integers(len(texts)))], rng), WORD_MAX_ASPECT)
    return strokes
