"""Whole numbers drawn on a wide canvas (training.ml.numbers): reproducible, and written within the stated ranges."""

import io
from itertools import pairwise

import numpy as np
import pytest
from PIL import Image

from training.ml.canvas import ENCODINGS, MARGIN
from training.ml.numbers import (
    BASELINE_SPREAD, DIGITS_PER_NUMBER, GAP, HEIGHT_SPREAD, HEIGHT_TOLERANCE, MIN_MARGIN, OVERLAP, iter_numbers,
    render_number,
)

SEED = 5


def test_the_same_seed_gives_the_same_bytes_and_a_smaller_set_is_a_prefix(mnist_test):
    some = ["canvas-rgba-png", "jpeg-q75", "palette-gif"]
    first = list(iter_numbers(2, SEED, encodings=some, mnist=mnist_test))
    assert first == list(iter_numbers(2, SEED, encodings=some, mnist=mnist_test))
    assert first[: len(some)] == list(iter_numbers(1, SEED, encodings=some, mnist=mnist_test))
    assert [s.encoding for s in first] == some * 2
    other = list(iter_numbers(2, SEED + 1, encodings=some, mnist=mnist_test))
    assert all(a.data != b.data for a, b in zip(first, other))
    touching = list(iter_numbers(2, SEED, encodings=some, touching=True, mnist=mnist_test))
    assert all(a.indices != b.indices for a, b in zip(first, touching))  # a stream of its own


def test_numbers_have_two_to_five_different_test_digits_and_their_labels(mnist_test):
    _, labels = mnist_test
    samples = list(iter_numbers(3, SEED, mnist=mnist_test))
    assert [s.encoding for s in samples[: len(ENCODINGS)]] == list(ENCODINGS)
    lengths = {len(s.label) for s in samples}
    assert lengths == set(range(DIGITS_PER_NUMBER[0], DIGITS_PER_NUMBER[1] + 1))
    for sample in samples:
        assert sample.label == "".join(str(labels[i]) for i in sample.indices)
        assert len(sample.drawing.boxes) == len(sample.label) == len(sample.drawing.touching) + 1
    used = [i for s in samples for i in s.indices]
    assert len(set(used)) == len(used)


def test_gaps_heights_baselines_and_margins_stay_within_their_ranges(mnist_test):
    for sample in iter_numbers(3, SEED, mnist=mnist_test):
        drawing = sample.drawing
        height, boxes = drawing.digit_height, drawing.boxes
        for before, after in pairwise(boxes):
            gap = after.x - (before.x + before.w)
            assert GAP[0] * height - 1 <= gap <= GAP[1] * height + 1
        for box in boxes:
            drawn = HEIGHT_TOLERANCE * (1 + HEIGHT_SPREAD) * height + 1  # how far a drawn digit may miss its height
            assert (1 - HEIGHT_SPREAD) * height - drawn <= box.h <= (1 + HEIGHT_SPREAD) * height + drawn
        bottoms = [box.y + box.h for box in boxes]
        assert max(bottoms) - min(bottoms) <= 2 * BASELINE_SPREAD * height + 1
        width, canvas_h = drawing.size
        margin = MARGIN + MIN_MARGIN * height - 1
        assert min(b.x for b in boxes) >= margin and max(b.x + b.w for b in boxes) <= width - margin
        assert min(b.y for b in boxes) >= margin and max(bottoms) <= canvas_h - margin
        assert not any(drawing.touching)


def test_the_boxes_hold_all_the_ink_and_each_is_tight(mnist_test):
    for sample in iter_numbers(3, SEED, encodings=["canvas-rgba-png"], mnist=mnist_test):
        image = Image.open(io.BytesIO(sample.data))
        assert image.size == sample.drawing.size
        alpha = np.asarray(image.getchannel("A"))
        inside = np.zeros(alpha.shape, dtype=bool)
        for box in sample.drawing.boxes:
            region = alpha[box.y: box.y + box.h, box.x: box.x + box.w]
            assert region[0].any() and region[-1].any() and region[:, 0].any() and region[:, -1].any()
            inside[box.y: box.y + box.h, box.x: box.x + box.w] = True
        assert not alpha[~inside].any()


def test_touching_neighbours_overlap_by_up_to_fifteen_percent_of_the_narrower(mnist_test):
    samples = list(iter_numbers(3, SEED, touching=True, mnist=mnist_test))
    for sample in samples:
        boxes = sample.drawing.boxes
        for before, after in pairwise(boxes):
            overlap = before.x + before.w - after.x
            assert OVERLAP[0] * min(before.w, after.w) - 1 <= overlap <= OVERLAP[1] * min(before.w, after.w) + 1
    pairs = [touch for s in samples for touch in s.drawing.touching]
    assert 0.2 <= np.mean(pairs) < 1  # many inks touch or cross; where the overlap is small, not all


def test_a_number_can_be_drawn_on_a_pad_of_a_given_height(mnist_test):
    images, _ = mnist_test
    drawing = render_number(list(images[:4]), np.random.default_rng(0), pad_height=280)
    assert drawing.size[1] == 280 and drawing.size[0] >= 2 * 280
    with pytest.raises(KeyError):
        render_number(list(images[:2]), np.random.default_rng(0), encoding="tiff")
