"""Datasets for training: MNIST through torchvision from the fetched IDX files.

MNIST's 60 000 training images are split: the first MNIST_TRAIN_PART train models (the base, and the replay
that fine-tunes rehearse), the rest are a validation set that no model trains on, which the fine-tune gates
read. MNIST's own test set is left for the one figure the site reports, so that figure stays unbiased.
"""

from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset, Subset

from recognizer.ml.preprocessing import mnist_transform

from .styles import WithStyles

MNIST_TRAIN_PART = 50_000  # of MNIST's 60 000 training images; the other 10 000 are validation


def mnist_dataset(root: Path, *, train: bool, augment: bool = False, limit: int | None = None) -> Dataset:
    """torchvision's MNIST read from ``root/MNIST/raw`` (never downloaded here; see fetch_mnist): the training
    part of MNIST train (never its validation part), or the test set. Augmented, it also draws handwriting styles
    MNIST lacks onto some of its digits (training.ml.styles)."""
    from torchvision.datasets import MNIST  # here: web processes import this module but never read MNIST

    transform = mnist_transform(augment=augment)
    dataset: Dataset = MNIST(root=str(root), train=train, download=False, transform=None if augment else transform)
    if augment:  # the styles are drawn on the raw digit, before the transform
        dataset = WithStyles(dataset, transform)
    size = MNIST_TRAIN_PART if train else len(dataset)
    if limit is not None:
        size = min(size, limit)
    return Subset(dataset, range(size)) if size < len(dataset) else dataset


def mnist_arrays(root: Path, *, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST as uint8 (N, 28, 28) images and labels: split 'train' (the training part), 'validation' or 'test'."""
    from torchvision.datasets import MNIST

    mnist = MNIST(root=str(root), train=split != "test", download=False)
    part = {"train": slice(0, MNIST_TRAIN_PART), "validation": slice(MNIST_TRAIN_PART, None),
            "test": slice(None)}[split]
    return mnist.data[part], mnist.targets[part]


def loader(dataset: Dataset, *, batch_size: int, shuffle: bool, seed: int = 0) -> DataLoader:
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator, num_workers=0)
