"""Train the base DigitNet from scratch on MNIST and describe it in a model card. No Django."""

import json
import platform
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import PIL
import scipy
import torch
import torchvision
from torch.utils.data import TensorDataset

from recognizer.ml.checkpoints import save_checkpoint
from recognizer.ml.network import DigitNet, parameter_count
from recognizer.ml.preprocessing import normalise_digits

from .data import MNIST_TRAIN_PART, loader, mnist_arrays, mnist_dataset
from .loop import BatchCallback, EpochCallback, FitConfig, evaluate, fit
from .mnist_files import MNIST_SHA256


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "pillow": PIL.__version__,
        "scipy": scipy.__version__,
    }


def train_base_model(
    data_dir: Path,
    config: FitConfig,
    *,
    batch_size: int = 128,
    train_limit: int | None = None,
    on_batch: BatchCallback | None = None,
    on_epoch: EpochCallback | None = None,
) -> tuple[DigitNet, dict[str, Any]]:
    """Train from a fixed seed and evaluate on the full test set; return the network and its model card."""
    torch.manual_seed(config.seed)
    model = DigitNet()
    train_set = mnist_dataset(data_dir, train=True, augment=True, limit=train_limit)
    test_loader = loader(mnist_dataset(data_dir, train=False), batch_size=1000, shuffle=False)
    started = time.perf_counter()
    history = fit(model, loader(train_set, batch_size=batch_size, shuffle=True, seed=config.seed), config,
                  on_batch=on_batch, on_epoch=on_epoch)
    training_seconds = time.perf_counter() - started
    test = evaluate(model, test_loader)
    validation = validation_accuracy(model, data_dir)
    card = {
        "architecture": model.architecture,
        "parameters": parameter_count(model),
        "epochs": config.epochs,
        "batch_size": batch_size,
        "seed": config.seed,
        "fit_config": asdict(config),
        "training_examples": len(train_set),
        "data_sha256": dict(MNIST_SHA256),
        "validation": f"MNIST train images {MNIST_TRAIN_PART}-59999, never trained on; the fine-tune gates read them",
        "validation_accuracy": validation,
        "test_accuracy": test["accuracy"],
        "test_loss": test["loss"],
        "per_class_accuracy": test["per_class_accuracy"],
        "confusion_matrix": test["confusion_matrix"],
        "history": history,
        "training_seconds": round(training_seconds, 1),
        "torch_threads": torch.get_num_threads(),
        "library_versions": library_versions(),
    }
    return model, card


def validation_accuracy(model: DigitNet, data_dir: Path) -> float:
    """Accuracy on MNIST's validation part (the last 10 000 training images, which no model trains on)."""
    images, labels = mnist_arrays(data_dir, split="validation")
    return evaluate(model, loader(TensorDataset(normalise_digits(images), labels), batch_size=1000,
                                  shuffle=False))["accuracy"]


def write_base_model(model: DigitNet, card: dict[str, Any], checkpoint_path: Path, card_path: Path) -> None:
    card = {**card, "checkpoint_sha256": save_checkpoint(model, checkpoint_path, metadata={"card": card})}
    tmp = card_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(card, indent=2) + "\n")
    tmp.replace(card_path)
