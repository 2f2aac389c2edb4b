"""Training the non-digit detector and calibrating confidence (no Django, small synthetic data)."""

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from recognizer.ml.network import DigitNet
from training.ml.detector import (
    DetectorConfig, canvas_digits, expected_calibration_error, fit_temperature, fold_temperature,
    fold_threshold, logits_of, nondigit_digits, threshold_for, train_detector,
)


def test_the_threshold_refuses_no_more_than_the_share_allowed():
    logits = torch.arange(1000, dtype=torch.float32)
    threshold = threshold_for(logits, 0.002)
    assert (logits > threshold).sum().item() == 2


def test_folding_the_threshold_makes_zero_the_boundary():
    head = torch.nn.Sequential(torch.nn.Linear(3, 1))
    features = torch.randn(50, 3)
    before = head(features)[:, 0].detach()
    fold_threshold(head, 0.7)
    assert torch.equal(head(features)[:, 0].detach() > 0, before > 0.7)


def test_the_fitted_temperature_undoes_a_known_one_and_keeps_every_best_guess():
    torch.manual_seed(0)
    labels = torch.randint(10, (4000,))
    true_logits = torch.randn(4000, 10) + 4 * F.one_hot(labels, 10)
    # Sample labels from the true distribution, then hand the fit logits that are too cold by 2.
    drawn = torch.distributions.Categorical(logits=true_logits).sample()
    temperature = fit_temperature(true_logits / 2, drawn)
    assert temperature == pytest.approx(0.5, rel=0.1)
    classifier = torch.nn.Sequential(torch.nn.Linear(4, 10))
    x = torch.randn(100, 4)
    before = classifier(x).detach()
    fold_temperature(classifier, 0.5)
    after = classifier(x).detach()
    assert torch.allclose(after, before / 0.5, atol=1e-5) and torch.equal(after.argmax(1), before.argmax(1))


def test_the_calibration_error_is_the_weighted_gap_per_bin():
    assert expected_calibration_error([0.95] * 10, [True] * 9 + [False]) == pytest.approx(0.05)
    assert expected_calibration_error([0.55, 0.95], [False, True]) == pytest.approx((0.55 + 0.05) / 2)


def test_non_digits_and_canvas_digits_come_back_as_the_network_sees_them():
    nondigits, families = nondigit_digits(["#", "smiley"], count=2, seed=9, processes=1)
    assert nondigits.shape == (4, 28, 28) and nondigits.dtype == torch.uint8 and sorted(set(families)) == ["#", "smiley"]
    digit = torch.zeros(2, 28, 28, dtype=torch.uint8)
    digit[:, 4:24, 12:16] = 255
    drawn = canvas_digits(digit, seed=1, processes=1)
    assert drawn.shape == (2, 28, 28) and drawn.max() > 200


def test_a_detector_learns_to_tell_two_kinds_of_drawing_apart():
    torch.manual_seed(0)
    network = DigitNet().eval()
    vertical = torch.zeros(200, 28, 28, dtype=torch.uint8)
    vertical[:, 4:24, 12:16] = 255
    ring = torch.zeros(200, 28, 28, dtype=torch.uint8)
    yy, xx = np.mgrid[:28, :28]
    ring[:, torch.from_numpy(np.abs(np.hypot(yy - 14, xx - 14) - 8) < 2)] = 255
    head = train_detector(network, vertical, ring, DetectorConfig(epochs=3, batch_size=50, learning_rate=1e-2))
    assert (logits_of(network, head, ring) > logits_of(network, head, vertical).max()).float().mean() > 0.9
