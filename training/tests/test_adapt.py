"""The fast adaptation and its gates, on synthetic and real data (no Django)."""

import numpy as np
import pytest
import torch

from recognizer.ml.network import DigitNet
from recognizer.ml.figures import HeldOut, NondigitRecall, Rate, Scores
from training.ml.adapt import (
    AdaptConfig, GateRules, augmented, build_bank, embed, gate,
    held_out_scores, scores_of, split_holdout, train_classifier, with_classifier,
)

CPU = torch.device("cpu")


def scores(accuracy: float, per_class: list[float] | None = None) -> Scores:
    return Scores(accuracy, 1000, per_class or [accuracy] * 10, [[0] * 10] * 10)


def test_the_holdout_takes_a_fifth_of_each_digit_with_enough_drawings():
    labels = [7] * 20 + [1] * 10 + [3] * 4
    train, held = split_holdout(labels, fraction=0.2, seed=3)
    assert sorted(train + held) == list(range(len(labels)))
    held_labels = [labels[i] for i in held]
    assert held_labels.count(7) == 4 and held_labels.count(1) == 2
    assert held_labels.count(3) == 0  # four drawings are too few to give one up
    assert split_holdout(labels, fraction=0.2, seed=3) == (train, held)  # the same drawings every time


def test_no_holdout_when_every_digit_has_too_few_drawings():
    train, held = split_holdout([0, 0, 1, 2, 2, 2], fraction=0.2)
    assert held == [] and len(train) == 6


def test_the_gate_accepts_a_small_mnist_drop_with_held_out_gains():
    decision = gate(parent=scores(0.995), candidate=scores(0.992), held_out=HeldOut(10, 0.6, 0.9),
                    rules=GateRules(max_drop=0.005))
    assert decision.accepted and "60.0% → 90.0%" in decision.reason


def test_the_gate_rejects_forgetting_mnist():
    decision = gate(parent=scores(0.995), candidate=scores(0.98), held_out=HeldOut(10, 0.6, 1.0),
                    rules=GateRules(max_drop=0.005))
    assert not decision.accepted and "MNIST validation accuracy fell" in decision.reason


def test_the_gate_rejects_reading_held_out_drawings_worse():
    decision = gate(parent=scores(0.995), candidate=scores(0.995), held_out=HeldOut(10, 0.9, 0.8),
                    rules=GateRules(max_drop=0.005))
    assert not decision.accepted and "did not train on" in decision.reason


def test_the_shared_gate_rejects_one_digit_forgotten_even_when_overall_holds():
    per_class = [0.99] * 10
    worse = per_class[:4] + [0.975] + per_class[5:]
    decision = gate(parent=scores(0.99, per_class), candidate=scores(0.9885, worse), held_out=HeldOut(0),
                    rules=GateRules(max_drop=0.003, max_class_drop=0.01))
    assert not decision.accepted and "on 4s fell" in decision.reason


def test_with_nothing_held_out_the_gate_says_so_instead_of_a_figure():
    decision = gate(parent=scores(0.99), candidate=scores(0.99), held_out=HeldOut(0), rules=GateRules(0.005))
    assert decision.accepted and "too few drawings to hold any out" in decision.reason


def test_user_digits_are_repeated_and_augmented():
    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 12:16] = 255
    images, labels = augmented([digit, digit], [1, 4], repeats=5, seed=0)
    assert images.shape == (10, 1, 28, 28) and labels.tolist() == [1, 4] * 5
    assert not torch.equal(images[0], images[2])  # each copy augmented anew


def test_only_the_classifier_changes_and_it_learns_the_new_labels():
    torch.manual_seed(0)
    parent = DigitNet().eval()
    digits = torch.randint(0, 256, (200, 28, 28), dtype=torch.uint8)
    bank = build_bank(parent, replay_digits=digits[:100], replay_labels=torch.arange(100) % 10,
                      validation_digits=digits[100:], validation_labels=torch.arange(100) % 10,
                      nondigit_digits=digits[:20], device=CPU)
    user = torch.randn(40, 1, 28, 28)
    user_labels = torch.full((40,), 3)
    classifier, history = train_classifier(parent, embed(parent, user, device=CPU), user_labels, bank,
                                           AdaptConfig(epochs=3, replay=100, min_replay=100), device=CPU)
    assert [record["epoch"] for record in history] == [1, 2, 3]
    network = with_classifier(parent, classifier)
    for part in ("features", "detector"):  # training the classifier changes nothing else
        assert all(torch.equal(a, b) for a, b in zip(getattr(network, part).state_dict().values(),
                                                     getattr(parent, part).state_dict().values()))
    result = held_out_scores(parent, network, embed(parent, user, device=CPU), user_labels)
    assert result.after == 1.0 and result.per_digit["3"]["count"] == 40
    assert result.not_a_digit.before == result.not_a_digit.after  # the same detector calls the same drawings


@pytest.mark.slow
def test_the_shipped_base_reads_the_mnist_validation_part_as_well_as_the_test_set(base_network, mnist_dir):
    from training.ml.data import mnist_arrays

    images, labels = mnist_arrays(mnist_dir, split="validation")
    assert len(images) == 10_000
    from recognizer.ml.preprocessing import normalise_digits

    accuracy = scores_of(base_network.classifier, embed(base_network, normalise_digits(images), device=CPU),
                         labels).accuracy
    assert accuracy >= 0.99


def test_replay_grows_with_the_drawings_within_its_bounds():
    config = AdaptConfig(replay=4000, replay_ratio=4, min_replay=1000)
    assert [config.replay_size(n) for n in (12, 500, 2000)] == [1000, 2000, 4000]


def test_a_candidate_that_finds_fewer_non_digits_is_refused_in_words():
    lost = NondigitRecall(count=400, before=0.95, after=0.91)
    decision = gate(parent=scores(0.99), candidate=scores(0.99), held_out=HeldOut(0), rules=GateRules(0.005),
                    nondigits=lost)
    assert not decision.accepted and "95.0% → 91.0% of 400" in decision.reason


def test_losing_up_to_three_points_of_non_digits_passes():
    kept = NondigitRecall(count=400, before=0.95, after=0.925)
    assert gate(parent=scores(0.99), candidate=scores(0.99), held_out=HeldOut(0), rules=GateRules(0.005),
                nondigits=kept).accepted


def test_a_parent_without_a_detector_is_not_held_to_non_digits():
    assert gate(parent=scores(0.99), candidate=scores(0.99), held_out=HeldOut(0), rules=GateRules(0.005),
                nondigits=NondigitRecall(count=400, before=None, after=None)).accepted


def test_a_candidate_that_calls_more_held_out_drawings_no_digit_is_refused_in_words():
    worse = HeldOut(10, 0.9, 1.0, not_a_digit=Rate(before=0.1, after=0.3))
    decision = gate(parent=scores(0.99), candidate=scores(0.99), held_out=worse, rules=GateRules(0.005))
    assert not decision.accepted and "called more no digit: 10.0% → 30.0%" in decision.reason


def test_the_gate_says_when_fewer_held_out_drawings_are_called_no_digit():
    better = HeldOut(10, 0.6, 0.9, not_a_digit=Rate(before=0.4, after=0.0))
    decision = gate(parent=scores(0.99), candidate=scores(0.99), held_out=better, rules=GateRules(0.005))
    assert decision.accepted and "called no digit 40.0% → 0.0%" in decision.reason
