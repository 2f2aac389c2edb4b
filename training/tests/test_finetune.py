import numpy as np
import torch
from torch.utils.data import TensorDataset

from training.finetune import DigitArrays, FineTuneConfig, gate, training_mix


def test_the_gate_accepts_a_small_mnist_drop_with_user_gains():
    decision = gate(parent_mnist=0.996, candidate_mnist=0.993, parent_user=0.4, candidate_user=1.0)
    assert decision.accepted
    assert "99.60%" in decision.reason and "99.30%" in decision.reason


def test_the_gate_rejects_forgetting_mnist():
    decision = gate(parent_mnist=0.996, candidate_mnist=0.990, parent_user=0.4, candidate_user=1.0)
    assert not decision.accepted
    assert "MNIST accuracy fell" in decision.reason and "0.60 points" in decision.reason


def test_the_gate_rejects_getting_worse_on_the_users_samples():
    decision = gate(parent_mnist=0.996, candidate_mnist=0.996, parent_user=0.9, candidate_user=0.8)
    assert not decision.accepted and "your samples fell" in decision.reason


def test_user_digits_are_repeated_and_augmented():
    digits = [np.zeros((28, 28), np.uint8) for _ in range(3)]
    for digit in digits:
        digit[6:22, 12:16] = 255
    user = DigitArrays(digits, [1, 1, 1], augment=True, repeats=5)
    assert len(user) == 15
    first, second = user[0][0], user[3][0]  # the same drawing, augmented twice
    assert first.shape == (1, 28, 28) and not torch.equal(first, second)


def test_the_mix_replays_several_times_more_mnist_than_user_data():
    user = DigitArrays([np.zeros((28, 28), np.uint8)] * 50, [0] * 50, augment=False, repeats=10)
    replay = TensorDataset(torch.zeros(5000, 1, 28, 28), torch.zeros(5000, dtype=torch.long))
    mix = training_mix(user, replay, FineTuneConfig(replay_ratio=4, min_replay=1000))
    assert len(mix) == 500 + 2000
    small = training_mix(DigitArrays([np.zeros((28, 28), np.uint8)], [0], augment=False), replay,
                         FineTuneConfig(replay_ratio=4, min_replay=1000))
    assert len(small) == 1 + 1000
