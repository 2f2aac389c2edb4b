"""Datasets for training: MNIST through torchvision from the fetched IDX files."""

from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset, Subset
from torchvision.datasets import MNIST

from recognizer.ml.preprocessing import mnist_transform

from .styles import WithStyles


def mnist_dataset(root: Path, *, train: bool, augment: bool = False, limit: int | None = None) -> Dataset:
    """torchvision's MNIST read from ``root/MNIST/raw`` (never downloaded here; see fetch_mnist). Augmented, it
    also draws handwriting styles MNIST lacks onto some of its digits (training.styles)."""
    transform = mnist_transform(augment=augment)
    dataset: Dataset = MNIST(root=str(root), train=train, download=False, transform=None if augment else transform)
    if augment:  # the styles are drawn on the raw digit, before the transform
        dataset = WithStyles(dataset, transform)
    if limit is not None and limit < len(dataset):
        return Subset(dataset, range(limit))
    return dataset


def loader(dataset: Dataset, *, batch_size: int, shuffle: bool, seed: int = 0) -> DataLoader:
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator, num_workers=0)
