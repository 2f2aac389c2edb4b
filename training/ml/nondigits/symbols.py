"""Symbols: punctuation, arithmetic, currency, arrows, a star, a heart, a note."""

import math
from collections.abc import Callable

import numpy as np

from training.ml.strokes import Stroke, arc

from .geometry import Shape, curve, dot, ellipse, line


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
