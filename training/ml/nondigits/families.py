"""Every non-digit family by name, in a fixed order (sampling walks it), each with its kind; and the families held
out of training (UNSEEN)."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .doodles import DOODLES
from .geometry import Shape, fitted
from .letters import LETTERS, WORDS, letter_family, word_family
from .scribbles import SCRIBBLES
from .symbols import SYMBOLS

KINDS = ("letter", "symbol", "doodle", "scribble", "word")


@dataclass(frozen=True)
class Family:
    name: str
    kind: str
    strokes: Callable[[np.random.Generator], Shape]  # a fresh variant each call, in a unit box


def _fitted(make: Callable[[np.random.Generator], Shape]) -> Callable[[np.random.Generator], Shape]:
    return lambda rng: fitted(make(rng))


FAMILIES: dict[str, Family] = {
    **{name: Family(name, "letter", letter_family(name)) for name in LETTERS},
    **{name: Family(name, "symbol", _fitted(make)) for name, make in SYMBOLS.items()},
    **{name: Family(name, "doodle", _fitted(make)) for name, make in DOODLES.items()},
    **{name: Family(name, "scribble", _fitted(make)) for name, make in SCRIBBLES.items()},
    **{name: Family(name, "word", word_family(name)) for name in WORDS},
}

# Never drawn in training: how the detector does on these measures what it learned, not what it memorised.
UNSEEN = frozenset({"Q", "k", "&", "♪", "umbrella", "cat face", "clock", "scribble cross-hatching", "word names"})


def training_families() -> list[str]:
    return [name for name in FAMILIES if name not in UNSEEN]
