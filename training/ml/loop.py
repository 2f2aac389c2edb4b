"""The training loop: train an epoch, evaluate, fit. Plain PyTorch, no Django, no printing, no file IO.

Callers watch progress through the ``on_batch`` / ``on_epoch`` callbacks (the console wraps them in tqdm,
the fine-tune job writes them to its database row) and get metrics back as plain dicts.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from recognizer.ml.figures import Scores

BatchCallback = Callable[[int, int, float, float], None]  # (batch index, batches per epoch, loss, accuracy)
EpochCallback = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class FitConfig:
    epochs: int = 15
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.05
    seed: int = 0
    max_batches: int | None = None  # stop each epoch early (tests, dry runs)


def _batches(loader: Iterable, max_batches: int | None) -> Iterable[tuple[int, tuple[Tensor, Tensor]]]:
    for index, batch in enumerate(loader):
        if max_batches is not None and index >= max_batches:
            return
        yield index, batch


def _epoch_length(loader: Iterable, max_batches: int | None) -> int:
    length = len(loader)  # type: ignore[arg-type]
    return min(length, max_batches) if max_batches is not None else length


def train_one_epoch(
    model: nn.Module,
    loader: Iterable,
    optimizer: torch.optim.Optimizer,
    *,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    label_smoothing: float = 0.0,
    max_batches: int | None = None,
    on_batch: BatchCallback | None = None,
) -> dict[str, float]:
    """One pass over ``loader``; returns the mean loss and the accuracy on the (augmented) training batches."""
    model.train()
    total = _epoch_length(loader, max_batches)
    loss_sum, correct, seen = 0.0, 0, 0
    for index, (images, labels) in _batches(loader, max_batches):
        optimizer.zero_grad(set_to_none=True)
        logits = model(images)
        loss = F.cross_entropy(logits, labels, label_smoothing=label_smoothing)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        batch_size = labels.numel()
        loss_sum += loss.item() * batch_size
        correct += (logits.argmax(1) == labels).sum().item()
        seen += batch_size
        if on_batch is not None:
            on_batch(index, total, loss_sum / seen, correct / seen)
    return {"loss": loss_sum / max(seen, 1), "accuracy": correct / max(seen, 1)}


def evaluate(model: nn.Module, loader: Iterable, *, max_batches: int | None = None) -> Scores:
    """Accuracy, mean loss, accuracy per digit and the 10x10 confusion matrix (rows: true, columns: predicted)."""
    model.eval()
    confusion = torch.zeros(10, 10, dtype=torch.long)
    loss_sum, seen = 0.0, 0
    with torch.no_grad():
        for _, (images, labels) in _batches(loader, max_batches):
            logits = model(images)
            loss_sum += F.cross_entropy(logits, labels, reduction="sum").item()
            predicted = logits.argmax(1)
            confusion += torch.bincount(labels * 10 + predicted, minlength=100).reshape(10, 10)
            seen += labels.numel()
    per_class_total = confusion.sum(1).clamp(min=1)
    return Scores(accuracy=confusion.trace().item() / max(seen, 1), count=seen,
                  per_digit=(confusion.diag() / per_class_total).tolist(), confusion=confusion.tolist(),
                  loss=loss_sum / max(seen, 1))


def fit(
    model: nn.Module,
    train_loader: Iterable,
    config: FitConfig,
    *,
    eval_loader: Iterable | None = None,
    on_batch: BatchCallback | None = None,
    on_epoch: EpochCallback | None = None,
) -> list[dict[str, Any]]:
    """Train with AdamW and a one-cycle learning rate; return the per-epoch history."""
    torch.manual_seed(config.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    steps = _epoch_length(train_loader, config.max_batches)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.learning_rate, epochs=config.epochs, steps_per_epoch=max(steps, 1)
    )
    history = []
    for epoch in range(1, config.epochs + 1):
        train_metrics = train_one_epoch(
            model, train_loader, optimizer, scheduler=scheduler, label_smoothing=config.label_smoothing,
            max_batches=config.max_batches, on_batch=on_batch,
        )
        record: dict[str, Any] = {"epoch": epoch, "train_loss": train_metrics["loss"],
                                  "train_accuracy": train_metrics["accuracy"]}
        if eval_loader is not None:
            eval_metrics = evaluate(model, eval_loader)
            record.update(eval_loss=eval_metrics.loss, eval_accuracy=eval_metrics.accuracy)
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
    return history
