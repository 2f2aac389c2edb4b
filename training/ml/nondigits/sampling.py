"""Drawing the non-digit families as the page posts them, reproducibly: each family from a random stream of its
own, keyed on the seed and its name."""

import zlib
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
from PIL import Image

from training.ml.strokes import ANY_HAND, Hand, render

from .families import FAMILIES

MOUSE_SHARE = 0.15  # drawn as a drawing app without smoothing draws: straight lines between pointer events


class NonDigit(NamedTuple):
    family: str
    kind: str
    image: Image.Image  # the RGBA canvas, as the page would post it


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
