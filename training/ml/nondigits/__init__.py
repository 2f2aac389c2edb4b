"""Drawings that are not digits, drawn with the page's pen: what a detector of "not a digit" is trained on.

People post letters, symbols, doodles, scribbles and words to a digit recogniser, and a network trained only on
digits reads each of them as some digit, confidently. Outlier exposure trains a detector on such drawings. Each
family here is a few strokes of control points in a unit box (training.ml.strokes' conventions), a fresh variant
on every call where variation helps (a spiral's turns, a sun's rays, a word's letters), drawn by
``training.ml.strokes.render`` as the page's canvas posts it.

Shapes that really are digits are left out: O, I, l, S, Z, B, b, g, q, T, J, L, U, C and the like read as
0, 1, 5, 2, 8, 6, 9 and 7, so they appear only inside words, where the whole is clearly no single digit. Numbers
of several digits are not drawn either: they are digits, just too many. No Django.

One module a job:

- ``geometry``: the pen's primitives on the unit box (line, curve, ellipse, dot…) and fitting a shape into it;
- ``letters``, ``symbols``, ``doodles``, ``scribbles``: the drawings, a module a kind (``letters`` also sets
  words);
- ``families``: every family by name and kind, in their fixed order, and which are held out (UNSEEN);
- ``sampling``: drawing them, reproducibly from a seed.
"""

from .families import FAMILIES, KINDS, UNSEEN, Family, training_families
from .geometry import MAX_ASPECT, Shape, points_of
from .letters import WORD_MAX_ASPECT
from .sampling import MOUSE_SHARE, NonDigit, draw_nondigit, iter_nondigits

__all__ = ["FAMILIES", "KINDS", "MAX_ASPECT", "MOUSE_SHARE", "UNSEEN", "WORD_MAX_ASPECT", "Family", "NonDigit",
           "Shape", "draw_nondigit", "iter_nondigits", "points_of", "training_families"]
