"""Scribbles, procedural, and never as simple as one straight line or one loop: those are a 1 and a 0."""

import math
from collections.abc import Callable

import numpy as np

from .geometry import Shape, curve, line, rotated


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
