"""Teaching a trained DigitNet to say "that is no digit", and to say how sure it is honestly. No Django.

Outlier exposure (Hendrycks et al., 2019): the detector head is trained to tell MNIST's digits from drawings
that are no digit (training.ml.nondigits: letters, symbols, doodles, scribbles and words drawn with a pen and put
through the site's own preprocessing), on the convolutional features the classifier reads. The features stay
frozen, so the classifier and its accuracy are untouched, and every fine-tune (which also keeps the features)
can keep the detector.

Its threshold is chosen on MNIST's validation part, never trained on, so that at most ``refuse_at_most`` of
those digits are called no digit, and folded into the head's bias: a positive logit means "no digit".

The classifier's confidence is calibrated by temperature scaling (Guo et al., 2017): training with label
smoothing leaves it lower than its accuracy, so one temperature is fitted on the validation part and folded
into the last layer; the best guess of every image is unchanged.
"""

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from multiprocessing import get_context

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn
from torch.nn import functional as F

from recognizer.ml.network import DigitNet, detector_head
from recognizer.ml.preprocessing import (
    InvalidImage, ink_map, mnist_transform, normalise_digits, prepare_digit, to_mnist,
)

from .canvas import ENCODINGS, render_canvas_sample
from .nondigits import iter_nondigits
from .styles import MARKS

Progress = Callable[[int, int, float], None]  # (step, steps, loss)
NONDIGITS_PER_FAMILY = {"train": 300, "validation": 40}  # drawings of each family
# MNIST digits drawn as canvases: trained on beside MNIST's own (train), and the threshold holds for them too
# (validation), since canvas digits look a little less like MNIST than MNIST does.
CANVAS_DIGITS = {"train": 8000, "validation": 4000}
CANVAS_MAX_PIXELS = 4096 * 4096
# Each use draws from its own seed: the validation and gate drawings are never the ones trained on.
NONDIGIT_SEEDS = {"train": 1, "validation": 2, "unseen": 3}
CANVAS_SEEDS = {"train": 4, "validation": 5}


@dataclass(frozen=True)
class DetectorConfig:
    epochs: int = 6
    batch_size: int = 256          # digits per step, and as many non-digits
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    refuse_at_most: float = 0.001  # of MNIST validation digits (and of them drawn as canvases) called no digit
    seed: int = 0


# ---- Non-digits as the network sees them ----

def _preprocessed(family_and_image: tuple[str, Image.Image]) -> tuple[str, np.ndarray | None]:
    family, image = family_and_image
    try:
        return family, to_mnist(ink_map(image))
    except InvalidImage:  # a scribble too small to be a drawing: the site refuses it before any verdict
        return family, None


def _render_batch(arguments: tuple[int, int, list[str]]) -> list[tuple[str, np.ndarray | None]]:
    count, seed, families = arguments
    return [_preprocessed((sample.family, sample.image)) for sample in iter_nondigits(count, seed, families)]


def nondigit_digits(families: list[str], *, count: int, seed: int, processes: int = 2
                    ) -> tuple[Tensor, list[str]]:
    """``count`` drawings of each family, through the site's preprocessing -> (N, 28, 28) uint8 and each one's
    family. Drawing is the slow part (about 9 ms each), so families are drawn in ``processes`` processes."""
    jobs = [(count, seed, [family]) for family in families]
    if processes > 1:
        with get_context("spawn").Pool(processes) as pool:
            batches = pool.map(_render_batch, jobs)
    else:
        batches = [_render_batch(job) for job in jobs]
    kept = [(family, digit) for batch in batches for family, digit in batch if digit is not None]
    if not kept:
        return torch.empty(0, 28, 28, dtype=torch.uint8), []
    return torch.from_numpy(np.stack([digit for _, digit in kept])), [family for family, _ in kept]


# ---- Digits as the site sees them ----

def _canvas_batch(arguments: tuple[np.ndarray, int]) -> np.ndarray:
    digits, seed = arguments
    rng = np.random.default_rng(seed)
    encodings = list(ENCODINGS)
    return np.stack([prepare_digit(render_canvas_sample(digit, encodings[index % len(encodings)], rng),
                                   max_pixels=CANVAS_MAX_PIXELS) for index, digit in enumerate(digits)])


def canvas_digits(digits: Tensor, *, seed: int, processes: int = 2, chunk: int = 500) -> Tensor:
    """Each uint8 (28, 28) MNIST digit drawn on a canvas (training.ml.canvas: any size, pen and encoding) and read
    back through the site's preprocessing -> (N, 28, 28) uint8. About 30 ms each."""
    jobs = [(digits[start:start + chunk].numpy(), seed * 100_003 + start) for start in range(0, len(digits), chunk)]
    if processes > 1 and len(jobs) > 1:
        with get_context("spawn").Pool(processes) as pool:
            parts = pool.map(_canvas_batch, jobs)
    else:
        parts = [_canvas_batch(job) for job in jobs]
    return torch.from_numpy(np.concatenate(parts)) if parts else torch.empty(0, 28, 28, dtype=torch.uint8)


# ---- Training the head ----

def _augment(digits: Tensor, labels: Tensor | None, transform: Callable, generator: torch.Generator) -> Tensor:
    """Each drawing augmented; digits of a label with a style MNIST lacks (training.ml.styles: a 1's flag, a 0's
    slash) get it as often as the base model's training drew it, so the detector knows those digits too."""
    images = []
    for index, digit in enumerate(digits):
        image = Image.fromarray(digit.numpy(), mode="L")
        mark = MARKS.get(int(labels[index])) if labels is not None and index < len(labels) else None
        if mark is not None and torch.rand((), generator=generator) < mark.probability:
            image = mark.draw(image, generator)
        images.append(transform(image))
    return torch.stack(images)


def train_detector(network: DigitNet, digits: Tensor, nondigits: Tensor, config: DetectorConfig, *,
                   labels: Tensor | None = None, progress: Progress | None = None) -> nn.Module:
    """A new detector head for ``network``, trained on uint8 (N, 28, 28) ``digits`` against ``nondigits``, both
    augmented afresh at every step (small affine changes, stroke width) so the head learns shapes, not pixels."""
    torch.manual_seed(config.seed)
    network.eval()
    head = detector_head(network.classifier[1].in_features)
    optimizer = torch.optim.AdamW(head.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(len(digits) / config.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.learning_rate,
                                                    total_steps=config.epochs * steps_per_epoch)
    transform = mnist_transform(augment=True)
    generator = torch.Generator().manual_seed(config.seed)
    step = 0
    for _ in range(config.epochs):
        order = torch.randperm(len(digits), generator=generator)
        for start in range(0, len(digits), config.batch_size):
            picked = order[start:start + config.batch_size]
            positives = digits[picked]
            negatives = nondigits[torch.randint(len(nondigits), (len(positives),), generator=generator)]
            images = _augment(torch.cat([positives, negatives]), None if labels is None else labels[picked],
                              transform, generator)
            targets = torch.cat([torch.zeros(len(positives)), torch.ones(len(negatives))])
            with torch.no_grad():
                features = network.embed(images)
            loss = F.binary_cross_entropy_with_logits(head(features)[:, 0], targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
            if progress is not None:
                progress(step, config.epochs * steps_per_epoch, loss.item())
    return head.eval()


def logits_of(network: DigitNet, head: nn.Module, digits: Tensor, *, batch_size: int = 1000) -> Tensor:
    """The head's logits for uint8 (N, 28, 28) digits."""
    network.eval()
    parts = [torch.empty(0)]
    with torch.inference_mode():
        for start in range(0, len(digits), batch_size):
            parts.append(head(network.embed(normalise_digits(digits[start:start + batch_size])))[:, 0])
    return torch.cat(parts)


def threshold_for(digit_logits: Tensor, refuse_at_most: float) -> float:
    """The logit above which no more than ``refuse_at_most`` of these digits lie."""
    allowed = int(math.floor(refuse_at_most * len(digit_logits)))
    ranked = torch.sort(digit_logits, descending=True).values
    return float(ranked[allowed]) if allowed < len(ranked) else float(ranked[-1])


def fold_threshold(head: nn.Module, threshold: float) -> None:
    """Shift the head's output so that its logit is positive exactly above ``threshold``."""
    with torch.no_grad():
        head[-1].bias -= threshold


# ---- Calibration ----

def classifier_logits(network: DigitNet, digits: Tensor, *, batch_size: int = 1000) -> Tensor:
    network.eval()
    with torch.no_grad():  # not inference mode: fit_temperature differentiates through these
        return torch.cat([network(normalise_digits(digits[start:start + batch_size]))
                          for start in range(0, len(digits), batch_size)])


def fit_temperature(logits: Tensor, labels: Tensor) -> float:
    """The temperature that minimises the negative log-likelihood of ``labels`` under ``logits / T``."""
    log_temperature = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_temperature], lr=0.1, max_iter=200)

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_temperature.exp(), labels)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_temperature.detach().exp())


def fold_temperature(classifier: nn.Sequential, temperature: float) -> None:
    """Divide the classifier's logits by ``temperature`` for good, by scaling its last layer."""
    with torch.no_grad():
        classifier[-1].weight /= temperature
        classifier[-1].bias /= temperature


def expected_calibration_error(confidences: Iterable[float], correct: Iterable[bool], bins: int = 10) -> float:
    """The mean gap between confidence and accuracy over ``bins`` equal-width confidence bins, weighted by how
    many answers fall in each."""
    confidence = np.asarray(list(confidences), dtype=np.float64)
    right = np.asarray(list(correct), dtype=np.float64)
    if not len(confidence):
        return float("nan")
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    gap = 0.0
    for index in range(bins):
        members = which == index
        if members.any():
            gap += members.sum() * abs(confidence[members].mean() - right[members].mean())
    return gap / len(confidence)
