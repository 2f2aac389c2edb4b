"""Whole numbers written on a wide canvas: MNIST digits side by side, drawn as training/ml/canvas.py draws one. No Django.

The numbers bench (bench/numbers.py) reads these through ``POST /api/read``; the segmentation's tests use them as
real files. A number is 2-5 MNIST digits written with one pen:

1. the number gets a digit height (see 4) and one stroke width, 7.5-20 % of that height, as training.ml.canvas
   draws a single digit (the same bicubic upscale and signed-distance stroke growth);
2. each digit's ink height varies by up to ±12 % of the number's digit height (``HEIGHT_SPREAD``; each digit is
   drawn to within 2 % of its own height, ``HEIGHT_TOLERANCE``), and its bottom edge by up to ±8 % of the digit
   height (``BASELINE_SPREAD``) around the number's baseline;
3. neighbours are written left to right with a horizontal gap between their ink boxes of 4-30 % of the digit
   height (``GAP``); or, for the touching set, their ink boxes overlap by 0-15 % of the narrower one's width
   (``OVERLAP``): their strokes may then cross or touch (``NumberDrawing.touching`` says where they do);
4. the canvas is a wide pad, 200-400 px high (``PAD_HEIGHT_PX``) and 2-4 times as wide (``PAD_ASPECT``), the
   digits 30-70 % of its height (``DIGIT_FRACTION``); it grows when the number needs more room. The number sits
   at a random place on it that keeps a margin of at least 15 % of the digit height (``MIN_MARGIN``, plus
   training.ml.canvas's 3 px) clear all round; the ink is encoded as one of training.ml.canvas's ENCODINGS.

Strokes laid over each other are composed as a canvas brush composes them (source-over: 1 - (1-a)(1-b)).
Everything comes from one ``numpy.random.default_rng``: the same seed gives the same bytes, and because numbers
are drawn round-robin over the encodings, a smaller ``count_per_encoding`` yields a prefix of a larger one.
"""

from collections.abc import Iterator, Sequence
from itertools import pairwise
from typing import NamedTuple

import numpy as np
from PIL import Image
from scipy import ndimage

# The single-digit drawing's pieces: one stroke model for a digit and for a number.
from training.ml.canvas import (
    ENCODINGS, MARGIN, MAX_GROWTH, MAX_THINNING, STROKE_RELATIVE, _crop_to_ink, _stroke_patch, load_mnist_test,
    stroke_width,
)

PAD_HEIGHT_PX = (200, 400)      # the canvas's height before it grows to fit the number
PAD_ASPECT = (2.0, 4.0)         # the canvas's width over its height, before it grows to fit the number
DIGIT_FRACTION = (0.3, 0.7)     # the number's digit height over the pad's height
DIGITS_PER_NUMBER = (2, 5)      # inclusive
HEIGHT_SPREAD = 0.12            # each digit's height: the number's digit height x (1 ± this)
BASELINE_SPREAD = 0.08          # each digit's bottom edge: the baseline ± this x the digit height
GAP = (0.04, 0.30)              # gap between neighbours' ink boxes, x the digit height
OVERLAP = (0.0, 0.15)           # touching set: neighbours' ink boxes overlap by this x the narrower one's width
MIN_MARGIN = 0.15               # blank canvas kept on each side of the ink, x the digit height (plus MARGIN px)
HEIGHT_TOLERANCE = 0.02        # a digit drawn further than this from its height is drawn again
TOUCH_INK = 0.5                 # coverage from which a pixel is ink when judging whether two digits touch
SEED_STREAMS = {False: 0, True: 1}  # the main and touching sets draw from streams of their own


class Box(NamedTuple):
    x: int
    y: int
    w: int
    h: int


class NumberDrawing(NamedTuple):
    data: bytes                 # the encoded canvas
    boxes: tuple[Box, ...]      # each digit's ink box (coverage > 0) in the canvas's pixels, left to right
    size: tuple[int, int]       # the canvas's (width, height)
    digit_height: float         # the number's digit height in px: the unit of its gaps, heights and baselines
    touching: tuple[bool, ...]  # per neighbouring pair: their inks (coverage >= TOUCH_INK) touch or cross


class NumberSample(NamedTuple):
    encoding: str
    label: str                  # the digits, e.g. "2026"
    drawing: NumberDrawing
    indices: tuple[int, ...]    # the MNIST test images it was written with

    @property
    def data(self) -> bytes:
        return self.drawing.data


def _digit_patch(digit28: np.ndarray, height: float, stroke_px: float) -> np.ndarray:
    """The digit drawn ``height`` px tall (stroke included) with a stroke ``stroke_px`` wide, cropped to its ink:
    float coverage in [0, 1], as training.ml.canvas.render_ink draws it."""
    rows, _ = np.nonzero(digit28)
    ink_h = np.ptp(rows) + 1
    native = stroke_width(digit28)
    scale = height / ink_h  # first guess, to turn the pen's width into MNIST px
    delta = float(np.clip((stroke_px / scale - native) / 2, -MAX_THINNING * native, MAX_GROWTH))
    scale = height / (ink_h + 2 * delta)  # the stroke grown (or thinned) on both ends
    patch = _crop_to_ink(_stroke_patch(digit28, scale, delta))
    if abs(patch.shape[0] / height - 1) > HEIGHT_TOLERANCE:
        # MNIST's faint edge pixels and the 0.5 contour disagree on a digit's height: draw it once more to size.
        patch = _crop_to_ink(_stroke_patch(digit28, scale * height / patch.shape[0], delta))
    if abs(patch.shape[0] / height - 1) > HEIGHT_TOLERANCE:  # rare (about 1 in 200): the last few px by resizing
        size = (max(1, round(patch.shape[1] * height / patch.shape[0])), max(1, round(height)))
        patch = _crop_to_ink(np.clip(np.asarray(Image.fromarray(patch, mode="F").resize(
            size, Image.Resampling.BILINEAR)), 0.0, 1.0))
    return patch


def _lefts(widths: list[int], digit_height: float, rng: np.random.Generator, *, touching: bool) -> list[int]:
    """Each digit's left edge, the first at 0: gaps of GAP x the digit height, or overlaps of OVERLAP x the
    narrower neighbour's width."""
    lefts = [0]
    for before, width in pairwise(widths):
        right = lefts[-1] + before
        if touching:
            lefts.append(right - round(rng.uniform(*OVERLAP) * min(before, width)))
        else:
            lefts.append(right + max(1, round(rng.uniform(*GAP) * digit_height)))
    return lefts


def _touch(first: np.ndarray, second: np.ndarray) -> bool:
    """Whether two digits' inks, each on the whole canvas, touch (8-connected) or cross."""
    return bool((ndimage.binary_dilation(first >= TOUCH_INK, np.ones((3, 3), bool)) & (second >= TOUCH_INK)).any())


def _pad(layout: tuple[int, int], digit_height: float, pad_height: int, rng: np.random.Generator
         ) -> tuple[tuple[int, int], tuple[int, int]]:
    """The canvas's (width, height) for a number whose ink spans ``layout`` (width, height), and where the ink's
    top-left corner goes: at random, MIN_MARGIN of the digit height (plus MARGIN px) clear all round."""
    margin = MARGIN + round(MIN_MARGIN * digit_height)
    height = max(pad_height, layout[1] + 2 * margin)
    width = max(round(pad_height * rng.uniform(*PAD_ASPECT)), layout[0] + 2 * margin)
    left = int(rng.integers(margin, width - margin - layout[0] + 1))
    top = int(rng.integers(margin, height - margin - layout[1] + 1))
    return (width, height), (left, top)


def render_number(digits28: Sequence[np.ndarray], rng: np.random.Generator, *, touching: bool = False,
                  encoding: str = "canvas-rgba-png", pad_height: int | None = None) -> NumberDrawing:
    """MNIST digits (28x28 uint8, white on black) written left to right as one number on a wide canvas and
    encoded as ``encoding``: the touching set's overlaps with ``touching``, else gaps. ``pad_height`` (px) fixes
    the pad's height; by default it is drawn from PAD_HEIGHT_PX."""
    pad_height = int(pad_height if pad_height is not None else rng.integers(PAD_HEIGHT_PX[0], PAD_HEIGHT_PX[1] + 1))
    height = pad_height * rng.uniform(*DIGIT_FRACTION)
    pen = rng.uniform(*STROKE_RELATIVE) * height  # one pen for the whole number
    patches = [_digit_patch(d, height * (1 + rng.uniform(-HEIGHT_SPREAD, HEIGHT_SPREAD)), pen) for d in digits28]
    lefts = _lefts([p.shape[1] for p in patches], height, rng, touching=touching)
    bottoms = [round(rng.uniform(-BASELINE_SPREAD, BASELINE_SPREAD) * height) for _ in patches]
    tops = [bottom - p.shape[0] for bottom, p in zip(bottoms, patches)]  # rows grow downwards from the baseline
    layout = (max(x + p.shape[1] for x, p in zip(lefts, patches)), max(bottoms) - min(tops))
    (width, canvas_h), (left, top) = _pad(layout, height, pad_height, rng)
    layers, boxes = [], []
    for x, y, patch in zip(lefts, tops, patches):
        box = Box(left + x, top + y - min(tops), patch.shape[1], patch.shape[0])
        layer = np.zeros((canvas_h, width), dtype=np.float32)
        layer[box.y: box.y + box.h, box.x: box.x + box.w] = patch
        layers.append(layer)
        boxes.append(box)
    ink = 1.0 - np.prod([1.0 - layer for layer in layers], axis=0)  # source-over, as a canvas brush composes
    touches = tuple(_touch(a, b) for a, b in pairwise(layers))
    return NumberDrawing(ENCODINGS[encoding](ink.astype(np.float32), rng), tuple(boxes), (width, canvas_h),
                         height, touches)


def iter_numbers(count_per_encoding: int, seed: int, *, touching: bool = False, encodings: list[str] | None = None,
                 mnist: tuple[np.ndarray, np.ndarray] | None = None) -> Iterator[NumberSample]:
    """Yield ``count_per_encoding`` numbers in each encoding, round-robin, of 2-5 MNIST test digits each taken in
    turn from a seeded permutation of the 10 000 (a digit comes back only after all have been used). The main set
    and the touching set (``touching``) draw from streams of their own: the same seed gives different digits."""
    names = list(ENCODINGS) if encodings is None else encodings
    images, labels = mnist if mnist is not None else load_mnist_test()
    rng = np.random.default_rng([seed, SEED_STREAMS[touching]])
    order = rng.permutation(len(images))
    taken = 0
    for _ in range(count_per_encoding):
        for name in names:
            count = int(rng.integers(DIGITS_PER_NUMBER[0], DIGITS_PER_NUMBER[1] + 1))
            indices = tuple(int(order[(taken + k) % len(order)]) for k in range(count))
            taken += count
            drawing = render_number([images[i] for i in indices], rng, touching=touching, encoding=name)
            yield NumberSample(name, "".join(str(int(labels[i])) for i in indices), drawing, indices)
