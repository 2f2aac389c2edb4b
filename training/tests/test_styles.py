"""The flag drawn onto MNIST's 1s while training (training.styles), on real MNIST digits."""

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from training.styles import FLAG_PROBABILITY, INK, WithStyles, with_flag


def _ones(mnist_test, count: int) -> list[np.ndarray]:
    images, labels = mnist_test
    return list(images[labels == 1][:count])


def test_the_flag_runs_down_and_left_from_the_top_of_the_stroke_and_keeps_the_digit(mnist_test):
    generator = torch.Generator().manual_seed(0)
    added_pixels = []
    for one in _ones(mnist_test, 50):
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
    one = Image.fromarray(_ones(mnist_test, 1)[0])
    first = with_flag(one, torch.Generator().manual_seed(5))
    again = with_flag(one, torch.Generator().manual_seed(5))
    other = with_flag(one, torch.Generator().manual_seed(6))
    assert np.array_equal(np.asarray(first), np.asarray(again))
    assert not np.array_equal(np.asarray(first), np.asarray(other))


class _Digits(Dataset):
    def __init__(self, digits: list[np.ndarray], label: int) -> None:
        self.digits, self.label = digits, label

    def __len__(self) -> int:
        return len(self.digits)

    def __getitem__(self, index: int):
        return Image.fromarray(self.digits[index]), self.label


def test_only_ones_get_a_flag_and_only_some_of_them(mnist_test):
    images, labels = mnist_test
    ones = _ones(mnist_test, 400)
    generator = torch.Generator().manual_seed(1)
    flagged = WithStyles(_Digits(ones, 1), np.asarray, generator=generator)
    changed = sum(not np.array_equal(flagged[i][0], ones[i]) for i in range(len(ones)))
    assert abs(changed / len(ones) - FLAG_PROBABILITY) < 0.08
    sevens = list(images[labels == 7][:100])
    untouched = WithStyles(_Digits(sevens, 7), np.asarray, generator=generator)
    assert all(np.array_equal(untouched[i][0], sevens[i]) and untouched[i][1] == 7 for i in range(len(sevens)))
