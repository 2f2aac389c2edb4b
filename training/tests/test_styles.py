"""The marks drawn onto MNIST's digits while training (training.ml.styles): a 1's flag, a 0's slash, on real MNIST
digits."""

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from training.ml.styles import FLAG_PROBABILITY, INK, SLASH_PROBABILITY, WithStyles, with_flag, with_slash


def _digits(mnist_test, label: int, count: int) -> list[np.ndarray]:
    images, labels = mnist_test
    return list(images[labels == label][:count])


def test_the_flag_runs_down_and_left_from_the_top_of_the_stroke_and_keeps_the_digit(mnist_test):
    generator = torch.Generator().manual_seed(0)
    added_pixels = []
    for one in _digits(mnist_test, 1, 50):
        flagged = np.asarray(with_flag(Image.fromarray(one), generator))
        assert flagged.shape == (28, 28) and flagged.dtype == np.uint8
        assert np.all(flagged >= one)  # the writer's own stroke is untouched
        added = (flagged > INK) & ~(one > INK)
        added_pixels.append(int(added.sum()))
        if not added.any():
            continue  # a short flag close to a slanted stem can hide in it
        rows, cols = np.nonzero(one > INK)
        added_rows, added_cols = np.nonzero(added)
        height = rows.max() - rows.min() + 1
        top_cols = cols[rows == rows.min()]
        # Left of the stroke's top, and in the upper half of the digit: a flag, not a base or a bar.
        assert added_cols.mean() < top_cols.mean()
        assert added_rows.max() <= rows.min() + height / 2
    assert np.median(added_pixels) >= 6 and sum(n > 0 for n in added_pixels) >= 45


def test_the_same_generator_state_draws_the_same_flag(mnist_test):
    one = Image.fromarray(_digits(mnist_test, 1, 1)[0])
    first = with_flag(one, torch.Generator().manual_seed(5))
    again = with_flag(one, torch.Generator().manual_seed(5))
    other = with_flag(one, torch.Generator().manual_seed(6))
    assert np.array_equal(np.asarray(first), np.asarray(again))
    assert not np.array_equal(np.asarray(first), np.asarray(other))


def test_the_slash_crosses_the_middle_of_the_zero_from_bottom_left_to_top_right_in_its_pen(mnist_test):
    generator = torch.Generator().manual_seed(0)
    for zero in _digits(mnist_test, 0, 50):
        slashed = np.asarray(with_slash(Image.fromarray(zero), generator))
        assert slashed.shape == (28, 28) and slashed.dtype == np.uint8
        assert np.all(slashed >= zero)  # the writer's own stroke is untouched
        added = (slashed > INK) & ~(zero > INK)
        rows, cols = np.nonzero(zero > INK)
        added_rows, added_cols = np.nonzero(added)
        assert added.sum() >= 4
        # Through the loop's middle: MNIST's 0s are open in the middle, so the slash shows there.
        centre_row, centre_col = (rows.min() + rows.max()) / 2, (cols.min() + cols.max()) / 2
        assert ((abs(added_rows - centre_row) <= 2) & (abs(added_cols - centre_col) <= 2)).any()
        # A "/": further right, higher up (rows grow downwards).
        assert np.corrcoef(added_cols, added_rows)[0, 1] < -0.5

    # In the writer's pen: per pixel of the digit's height, bold zeros get wider slashes than fine ones.
    per_row = []
    for zero in _digits(mnist_test, 0, 200):
        slashed = np.asarray(with_slash(Image.fromarray(zero), generator))
        height = np.ptp(np.nonzero(zero > INK)[0]) + 1
        per_row.append(((zero > INK).sum() / height, ((slashed > INK) & ~(zero > INK)).sum() / height))
    per_row.sort()
    assert np.mean([added for _, added in per_row[-20:]]) > 1.25 * np.mean([added for _, added in per_row[:20]])


class _Digits(Dataset):
    def __init__(self, digits: list[np.ndarray], label: int) -> None:
        self.digits, self.label = digits, label

    def __len__(self) -> int:
        return len(self.digits)

    def __getitem__(self, index: int):
        return Image.fromarray(self.digits[index]), self.label


def test_only_ones_get_a_flag_and_zeros_a_slash_and_only_some_of_them(mnist_test):
    generator = torch.Generator().manual_seed(1)
    for label, probability in ((1, FLAG_PROBABILITY), (0, SLASH_PROBABILITY)):
        digits = _digits(mnist_test, label, 400)
        marked = WithStyles(_Digits(digits, label), np.asarray, generator=generator)
        changed = sum(not np.array_equal(marked[i][0], digits[i]) for i in range(len(digits)))
        assert abs(changed / len(digits) - probability) < 0.08
    for label in (2, 7, 8):
        digits = _digits(mnist_test, label, 100)
        untouched = WithStyles(_Digits(digits, label), np.asarray, generator=generator)
        assert all(np.array_equal(untouched[i][0], digits[i]) and untouched[i][1] == label for i in range(len(digits)))
