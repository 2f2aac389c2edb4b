"""Fine-tuning on people's drawings without forgetting MNIST, and the quality gate. No Django, no file IO.

A handful of user drawings is stretched by repetition with augmentation (small affine changes, stroke width)
and mixed with a replay sample of MNIST several times its size, so the network learns the new handwriting
while still rehearsing everyone else's.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import ConcatDataset, Dataset, Subset

from recognizer.ml.network import DigitNet
from recognizer.ml.preprocessing import mnist_transform

from .data import loader
from .loop import BatchCallback, EpochCallback, FitConfig, evaluate, fit


@dataclass(frozen=True)
class FineTuneConfig:
    epochs: int = 4
    learning_rate: float = 1e-3
    batch_size: int = 64
    user_repeats: int = 10       # each user drawing appears this often per epoch, each time augmented anew
    replay_ratio: int = 4        # MNIST replay examples per (repeated) user example
    min_replay: int = 2000
    seed: int = 0
    max_batches: int | None = None


@dataclass(frozen=True)
class GateDecision:
    accepted: bool
    reason: str


class DigitArrays(Dataset):
    """(28, 28) uint8 MNIST-form digits with labels, as a dataset."""

    def __init__(self, digits: Sequence[np.ndarray], labels: Sequence[int], *, augment: bool, repeats: int = 1):
        self.digits, self.labels, self.repeats = list(digits), [int(label) for label in labels], repeats
        self.transform = mnist_transform(augment=augment)

    def __len__(self) -> int:
        return len(self.digits) * self.repeats

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        index %= len(self.digits)
        return self.transform(Image.fromarray(self.digits[index], mode="L")), self.labels[index]


def training_mix(user: DigitArrays, replay: Dataset, config: FineTuneConfig) -> ConcatDataset:
    """User drawings (repeated, augmented) plus a seeded random slice of MNIST several times their number."""
    size = min(len(replay), max(config.min_replay, config.replay_ratio * len(user)))
    generator = torch.Generator().manual_seed(config.seed)
    picked = torch.randperm(len(replay), generator=generator)[:size].tolist()
    return ConcatDataset([user, Subset(replay, picked)])


def fine_tune(
    model: DigitNet,
    user: DigitArrays,
    replay: Dataset,
    config: FineTuneConfig,
    *,
    on_batch: BatchCallback | None = None,
    on_epoch: EpochCallback | None = None,
) -> list[dict[str, Any]]:
    """Train ``model`` in place on the mix; return the per-epoch history (loss, accuracy)."""
    mix = training_mix(user, replay, config)
    fit_config = FitConfig(epochs=config.epochs, learning_rate=config.learning_rate, seed=config.seed,
                           max_batches=config.max_batches, label_smoothing=0.05)
    return fit(model, loader(mix, batch_size=config.batch_size, shuffle=True, seed=config.seed), fit_config,
               on_batch=on_batch, on_epoch=on_epoch)


def accuracy_on(model: DigitNet, dataset: Dataset) -> dict[str, Any]:
    return evaluate(model, loader(dataset, batch_size=500, shuffle=False))


def gate(*, parent_mnist: float, candidate_mnist: float, parent_user: float, candidate_user: float,
         max_mnist_drop: float = 0.005) -> GateDecision:
    """Accept a candidate only if MNIST accuracy fell by at most ``max_mnist_drop`` and user accuracy did not fall."""
    drop = parent_mnist - candidate_mnist
    if drop > max_mnist_drop:
        return GateDecision(False, f"MNIST accuracy fell from {parent_mnist:.2%} to {candidate_mnist:.2%} "
                                   f"({drop * 100:.2f} points; at most {max_mnist_drop * 100:.1f} allowed).")
    if candidate_user < parent_user:
        return GateDecision(False, f"Accuracy on your samples fell from {parent_user:.1%} to {candidate_user:.1%}.")
    return GateDecision(True, f"MNIST accuracy {parent_mnist:.2%} → {candidate_mnist:.2%}; "
                              f"your samples {parent_user:.1%} → {candidate_user:.1%}.")
