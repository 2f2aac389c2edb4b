"""Pen-drawn digits in handwriting styles MNIST has few of (bench/pen_digits.py), through the shipped base model.

The full report is `python -m bench.handwriting_styles`; this keeps every style readable: a European 1 with a
flag, a slashed 0, a crossed 7, an open 4, an 8 of two loops, curves drawn as a mouse's straight segments... each
drawn as the page's canvas posts it.
"""

import io

import numpy as np
import pytest
import torch
from django.conf import settings
from PIL import Image

from bench.pen_digits import CANVAS_SIDES, STYLES, iter_pen_digits
from recognizer.ml.preprocessing import prepare_digit, to_model_input

pytestmark = pytest.mark.slow

SEED = 3
PER_STYLE = 20
# A style the network does not know fails (MNIST's 1s have no flag: before training.ml.styles, 60 % of flagged 1s
# were read right); a long flag can pass for a 7's bar now and then, so one slip in five is allowed.
MIN_RIGHT_PER_STYLE = 16


def test_the_same_seed_draws_the_same_canvases_as_the_page_posts_them():
    first = list(iter_pen_digits(1, SEED))
    assert first == list(iter_pen_digits(1, SEED))
    assert [s.style for s in first] == list(STYLES)
    assert all(a.data != b.data for a, b in zip(first, iter_pen_digits(1, SEED + 1)))
    for sample in first:
        image = Image.open(io.BytesIO(sample.data))
        assert (image.format, image.mode) == ("PNG", "RGBA")
        assert image.width == image.height and CANVAS_SIDES[0] <= image.width <= CANVAS_SIDES[1]
        alpha = np.asarray(image.getchannel("A"))
        assert alpha[0].max() == alpha[-1].max() == alpha[:, 0].max() == alpha[:, -1].max() == 0  # inside
        assert 0 < np.count_nonzero(alpha) < alpha.size / 3 and len(np.unique(alpha)) > 10  # anti-aliased ink


def misread(network, samples) -> dict[str, list[int]]:
    """Per style, what the network answered for the samples it got wrong."""
    batch = torch.cat([to_model_input(prepare_digit(s.data, max_pixels=settings.MAX_IMAGE_PIXELS)) for s in samples])
    with torch.inference_mode():
        predicted = network(batch).argmax(1).tolist()
    wrong: dict[str, list[int]] = {}
    for sample, guess in zip(samples, predicted):
        if guess != sample.label:
            wrong.setdefault(sample.style, []).append(guess)
    return wrong


def test_every_handwriting_style_is_read_as_its_digit(base_network):
    wrong = misread(base_network, list(iter_pen_digits(PER_STYLE, SEED)))
    struggling = {style: guesses for style, guesses in wrong.items() if len(guesses) > PER_STYLE - MIN_RIGHT_PER_STYLE}
    assert not struggling, f"styles misread (style: what the network answered instead): {struggling}"


def test_a_slashed_zero_is_read_as_zero(base_network):
    # training.ml.styles slashes some of MNIST's 0s; the base trained without that read 85 % of these (the rest as 8).
    wrong = misread(base_network, list(iter_pen_digits(60, SEED, styles=["0 slashed"])))
    assert len(wrong.get("0 slashed", [])) <= 2, wrong
