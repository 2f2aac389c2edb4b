"""A small real slice of the canvas-robustness set (training/ml/canvas.py) through the shipped base model.

The full report is `python -m bench.robustness`; this keeps the preprocessing honest for every encoding.
"""

import io

import numpy as np
import pytest
import torch
from django.conf import settings
from PIL import Image

from training.ml.canvas import (
    CANVAS_SIDES, ENCODINGS, HEIGHT_FRACTION, MARGIN, iter_robustness_set, render_ink,
)
from recognizer.ml.preprocessing import InvalidImage, prepare_digit, to_model_input

pytestmark = pytest.mark.slow

SEED = 11
PER_ENCODING = 25  # 275 drawings: about 8 s on an idle core


def test_the_same_seed_gives_the_same_bytes_and_a_smaller_set_is_a_prefix(mnist_test):
    first = list(iter_robustness_set(2, SEED, mnist=mnist_test))
    again = list(iter_robustness_set(2, SEED, mnist=mnist_test))
    assert first == again
    assert first[: len(ENCODINGS)] == list(iter_robustness_set(1, SEED, mnist=mnist_test))
    assert [s.encoding for s in first[: len(ENCODINGS)]] == list(ENCODINGS)
    assert len({s.index for s in first}) == len(first)  # a different test digit every time
    other = list(iter_robustness_set(2, SEED + 1, mnist=mnist_test))
    assert all(a.data != b.data for a, b in zip(first, other))


def test_every_encoding_decodes_to_its_intended_format_and_mode(mnist_test):
    expected = {
        "canvas-rgba-png": ("PNG", "RGBA"), "black-on-white-png": ("PNG", "RGB"), "white-on-black-png": ("PNG", "RGB"),
        "coloured-ink-png": ("PNG", "RGB"), "grey-L-png": ("PNG", "L"), "la-png": ("PNG", "LA"),
        "palette-gif": ("GIF", "P"), "palette-png-trns": ("PNG", "P"), "jpeg-q75": ("JPEG", "RGB"),
        "webp": ("WEBP", "RGBA"), "bmp": ("BMP", "RGB"),
    }
    images = {s.encoding: Image.open(io.BytesIO(s.data)) for s in iter_robustness_set(1, SEED, mnist=mnist_test)}
    assert {name: (image.format, image.mode) for name, image in images.items()} == expected
    assert "transparency" in images["palette-png-trns"].info  # the palette carries alpha (tRNS)


def test_the_drawn_digit_stays_inside_the_canvas_at_the_requested_size(mnist_test):
    images, _ = mnist_test
    rng = np.random.default_rng(SEED)
    for digit in images[:40]:
        ink = render_ink(digit, rng)
        height, width = ink.shape
        assert CANVAS_SIDES[0] <= min(height, width) and max(height, width) <= CANVAS_SIDES[1]
        rows, cols = np.nonzero(ink)
        assert rows.min() >= MARGIN and cols.min() >= MARGIN  # nothing cut off
        assert rows.max() < height - MARGIN and cols.max() < width - MARGIN
        # Narrow canvases shrink wide digits, and stroke growth adds a little: allow for both.
        assert (np.ptp(rows) + 1) / height <= HEIGHT_FRACTION[1] + 0.02
        assert ink.max() == 1.0


def test_canvas_drawings_of_mnist_test_digits_are_recognised_in_every_encoding(mnist_test, base_network):
    inputs, labels, encodings = [], [], []
    for sample in iter_robustness_set(PER_ENCODING, SEED, mnist=mnist_test):
        try:
            inputs.append(to_model_input(prepare_digit(sample.data, max_pixels=settings.MAX_IMAGE_PIXELS)))
        except InvalidImage as exc:
            pytest.fail(f"{sample.encoding} sample of MNIST #{sample.index} was refused: {exc}")
        labels.append(sample.label)
        encodings.append(sample.encoding)
    with torch.inference_mode():
        predicted = base_network(torch.cat(inputs)).argmax(1).numpy()
    correct = predicted == np.array(labels)
    per_encoding = {name: float(correct[[e == name for e in encodings]].mean()) for name in ENCODINGS}
    assert len(correct) == PER_ENCODING * len(ENCODINGS)
    assert min(per_encoding.values()) >= 0.9, per_encoding
    assert correct.mean() >= 0.95, per_encoding
