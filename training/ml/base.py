"""Train the base DigitNet from scratch on MNIST and describe it in a model card. No Django."""

import json
import platform
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import PIL
import scipy
import torch
import torchvision
from torch import Tensor
from torch.utils.data import TensorDataset

from recognizer.ml.checkpoints import save_checkpoint
from recognizer.ml.figures import ModelCard, Scores
from recognizer.ml.network import DigitNet, parameter_count
from recognizer.ml.preprocessing import normalise_digits

from .data import MNIST_TRAIN_PART, loader, mnist_arrays, mnist_dataset
from .detector import (
    CANVAS_DIGITS, CANVAS_SEEDS, NONDIGIT_SEEDS, NONDIGITS_PER_FAMILY, DetectorConfig, Progress, canvas_digits,
    classifier_logits, expected_calibration_error, fit_temperature, fold_temperature,
    fold_threshold, logits_of, nondigit_digits, threshold_for, train_detector,
)
from .loop import BatchCallback, EpochCallback, FitConfig, evaluate, fit
from .mnist_files import MNIST_SHA256
from .nondigits import UNSEEN, training_families


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
) -> tuple[DigitNet, ModelCard]:
    """Train from a fixed seed and evaluate on the full test set; return the network and its model card."""
    torch.manual_seed(config.seed)
    model = DigitNet()
    train_set = mnist_dataset(data_dir, train=True, augment=True, limit=train_limit)
    test_loader = loader(mnist_dataset(data_dir, train=False), batch_size=1000, shuffle=False)
    started = time.perf_counter()
    history = fit(model, loader(train_set, batch_size=batch_size, shuffle=True, seed=config.seed), config,
                  on_batch=on_batch, on_epoch=on_epoch)
    training_seconds = time.perf_counter() - started
    card = ModelCard(
        architecture=model.architecture, parameters=parameter_count(model), epochs=config.epochs,
        batch_size=batch_size, seed=config.seed, fit_config=asdict(config), training_examples=len(train_set),
        data_sha256=dict(MNIST_SHA256),
        validation=f"MNIST train images {MNIST_TRAIN_PART}-59999, never trained on; the fine-tune gates read them",
        mnist_validation=validation_scores(model, data_dir), mnist_test=evaluate(model, test_loader),
        history=history, training_seconds=round(training_seconds, 1), torch_threads=torch.get_num_threads(),
        library_versions=library_versions(),
    )
    return model, card


def validation_scores(model: DigitNet, data_dir: Path) -> Scores:
    """How it reads MNIST's validation part (the last 10 000 training images, which no model trains on)."""
    images, labels = mnist_arrays(data_dir, split="validation")
    return evaluate(model, loader(TensorDataset(normalise_digits(images), labels), batch_size=1000, shuffle=False))


def write_base_model(model: DigitNet, card: ModelCard, checkpoint_path: Path, card_path: Path) -> None:
    card = replace(card, checkpoint_sha256=None)
    card = replace(card, checkpoint_sha256=save_checkpoint(model, checkpoint_path, metadata={"card": card.to_json()}))
    tmp = card_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(card.to_json(), indent=2) + "\n")
    tmp.replace(card_path)


# ---- The non-digit detector and calibration, added to a trained base ----

def add_detector(model: DigitNet, data_dir: Path, config: DetectorConfig, *, progress: Progress | None = None,
                 per_family: dict[str, int] = NONDIGITS_PER_FAMILY, canvas: dict[str, int] = CANVAS_DIGITS
                 ) -> dict[str, Any]:
    """Give ``model`` a non-digit detector and a calibrated confidence (training.ml.detector); return what the model
    card says about both. The convolutional features and every best guess stay as they were."""
    mnist_train, mnist_labels = mnist_arrays(data_dir, split="train")
    validation_digits, validation_labels = mnist_arrays(data_dir, split="validation")
    picked = torch.randperm(len(mnist_train), generator=torch.Generator().manual_seed(config.seed))
    train_digits = torch.cat([mnist_train, canvas_digits(mnist_train[picked[:canvas["train"]]],
                                                         seed=CANVAS_SEEDS["train"])])
    train_labels = torch.cat([mnist_labels, mnist_labels[picked[:canvas["train"]]]])
    canvas_validation = canvas_digits(validation_digits[:canvas["validation"]], seed=CANVAS_SEEDS["validation"])
    seen = training_families()
    nondigits, _ = nondigit_digits(seen, count=per_family["train"], seed=NONDIGIT_SEEDS["train"])
    held_nondigits, held_families = nondigit_digits(seen, count=per_family["validation"],
                                                    seed=NONDIGIT_SEEDS["validation"])
    unseen, unseen_families = nondigit_digits(sorted(UNSEEN), count=per_family["validation"],
                                              seed=NONDIGIT_SEEDS["unseen"])
    head = train_detector(model, train_digits, nondigits, config, labels=train_labels, progress=progress)
    # The stricter of two thresholds: no more than refuse_at_most of MNIST's validation digits, nor of the same
    # digits drawn as canvases, are called no digit.
    threshold = max(threshold_for(logits_of(model, head, digits), config.refuse_at_most)
                    for digits in (validation_digits, canvas_validation))
    fold_threshold(head, threshold)
    model.detector = head

    logits = classifier_logits(model, validation_digits)
    confidence_before = logits.softmax(1).max(1).values
    temperature = fit_temperature(logits, validation_labels.long())
    fold_temperature(model.classifier, temperature)
    confidence = classifier_logits(model, validation_digits).softmax(1).max(1)
    correct = (confidence.indices == validation_labels).tolist()

    def refused(digits: Tensor) -> Tensor:
        return logits_of(model, model.detector, digits) > 0

    held_refused, unseen_refused = refused(held_nondigits), refused(unseen)
    baseline = confidence_baseline(model, validation_digits, torch.cat([held_nondigits, unseen]),
                                   refuse_at_most=config.refuse_at_most)
    return {
        "detector": {
            "method": "outlier exposure: a head on the frozen convolutional features, trained against generated "
                      "non-digits (training.ml.nondigits)",
            "config": asdict(config),
            "trained_on": {"digits": len(train_digits), "canvas_digits": canvas["train"], "nondigits": len(nondigits),
                           "families": len(seen)},
            "validation_digits_refused": refused(validation_digits).float().mean().item(),
            "validation_canvas_digits_refused": refused(canvas_validation).float().mean().item(),
            "validation_nondigit_recall": held_refused.float().mean().item(),
            "validation_nondigit_count": len(held_nondigits),
            "unseen_family_recall": unseen_refused.float().mean().item(),
            "unseen_families": sorted(UNSEEN),
            "per_family_recall": _per_family(torch.cat([held_refused, unseen_refused]),
                                             held_families + unseen_families),
            "confidence_baseline": baseline,
        },
        "calibration": {
            "temperature": temperature,
            "validation_ece_before": expected_calibration_error(confidence_before.tolist(), correct),
            "validation_ece_after": expected_calibration_error(confidence.values.tolist(), correct),
        },
    }


def confidence_baseline(model: DigitNet, digits: Tensor, nondigits: Tensor, *, refuse_at_most: float
                        ) -> dict[str, float]:
    """The simple alternative the detector is measured against: refuse a drawing when the classifier's top
    probability is below a threshold, set to refuse as many validation digits as the detector may."""
    digit_doubt = -classifier_logits(model, digits).softmax(1).max(1).values
    threshold = threshold_for(digit_doubt, refuse_at_most)
    nondigit_doubt = -classifier_logits(model, nondigits).softmax(1).max(1).values
    return {"confidence_below": -threshold, "nondigit_recall": (nondigit_doubt > threshold).float().mean().item(),
            "validation_digits_refused": (digit_doubt > threshold).float().mean().item()}


def _per_family(refused: Tensor, families: list[str]) -> dict[str, float]:
    totals: dict[str, list[int]] = {}
    for family, was_refused in zip(families, refused.tolist()):
        totals.setdefault(family, []).append(int(was_refused))
    return {family: sum(flags) / len(flags) for family, flags in sorted(totals.items())}
