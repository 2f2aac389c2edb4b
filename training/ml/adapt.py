"""Adapting a trained DigitNet to new handwriting in seconds, and the quality gates. No Django, no file IO.

The convolutional features stay as the parent has them; only the dense classifier is trained, on features
computed once. The features already tell strokes, loops and corners apart; what differs from one writer to the
next is mostly which combinations of them mean which digit. Training the classifier alone on precomputed
features takes about a second on two CPU cores, where the whole network took a minute. The MNIST features every
run needs (a replay sample rehearsed beside the person's drawings so MNIST is not forgotten, and the validation
set the gate reads) depend only on the parent, so they are computed once per parent (ParentBank) and reused.

The non-digit detector's head is taught the same drawings, as digits: a person whose 4 the shared detector calls
"no digit" has labelled it a 4, so their own model should read it as one. It learns on the same frozen features:
"digit" for the person's drawings, and the parent's own answers for the MNIST replay and for drawings of the
non-digit families it was first trained on; its threshold is then put back where the parent's refused as many
MNIST validation digits. The gate checks that it still finds held-out non-digits, and that it calls no more of the
held-out drawings no digit.

A person's drawings are split first: a stratified part of each digit is held out, never trained on, so the
before/after figure says how the model reads drawings it has not seen (as Teachable Machine holds out 15 %).
"""

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from recognizer.ml.figures import HeldOut, NondigitRecall, Rate, Scores
from recognizer.ml.network import DigitNet
from recognizer.ml.personal import AdapterShape, PersonalAdapter
from recognizer.ml.preprocessing import mnist_transform, normalise_digits

from .detector import fold_threshold, threshold_for
from .loop import EpochCallback, FitConfig, evaluate, fit

HOLDOUT_MIN_PER_DIGIT = 5  # a digit with fewer drawings is all trained on: holding out 1 of 3 would cost too much


@dataclass(frozen=True)
class AdaptConfig:
    epochs: int = 8
    learning_rate: float = 2e-3
    batch_size: int = 256  # half the steps of 128 for the same epochs: 2.2 s instead of 4.9 s for 200 drawings on a
                           # thread (a dense layer on 3136 features gains from bigger matrix products)
    user_repeats: int = 12  # augmented copies of each training drawing (small affine changes, stroke width)
    replay: int = 4000      # at most this many MNIST examples rehearsed beside them,
    replay_ratio: int = 4   # about this many per (augmented) user example,
    min_replay: int = 1000  # and at least this many
    detector_epochs: int = 4  # the detector's head, taught the person's drawings as digits (adapt_detector)
    detector_learning_rate: float = 3e-4  # 1e-3 lost 11 points of held-out non-digits with 87 to learn from
    # A personal adapter's detector side starts as the parent's (its low-rank update at zero), so it needs a
    # larger step than a copy of the whole head to learn anything in a few epochs.
    adapter_detector_learning_rate: float = 3e-3
    seed: int = 0
    # A personal model's size (recognizer.ml.personal.AdapterShape) and step, chosen on the tuning writers
    # (python -m bench.personal_depth): 20 drawings turned 45 degrees, read 59.7 % by the shared model, are read
    # 97.5 % with the stroke adapter at 2e-3 and 99.7 % at 5e-3 (88.2 % without the stroke adapter); rank 16
    # in the dense update, or 32 maps, add size and no accuracy.
    adapter_learning_rate: float = 5e-3
    conv_rank: int = 16
    hidden_rank: int = 8
    detector_rank: int = 4

    @property
    def adapter_shape(self) -> AdapterShape:
        return AdapterShape(conv_rank=self.conv_rank, hidden_rank=self.hidden_rank, detector_rank=self.detector_rank)

    def replay_size(self, user_examples: int) -> int:
        """MNIST examples to rehearse with this many user examples: enough that MNIST is not forgotten, few enough
        that a handful of drawings is not drowned out (and trains in a second)."""
        return min(self.replay, max(self.min_replay, self.replay_ratio * user_examples))


def pick_device(name: str) -> torch.device:
    """'auto' (CUDA when there is one), 'cpu' or 'cuda'."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


# ---- Features ----

def embed(network: DigitNet, images: Tensor, *, device: torch.device, batch_size: int = 1000) -> Tensor:
    """(N, 1, 28, 28) normalised images -> (N, D) features from the frozen convolutional stages, on the CPU."""
    network = network.to(device).eval()
    parts = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            parts.append(network.features(images[start:start + batch_size].to(device)).flatten(1).cpu())
    return torch.cat(parts) if parts else torch.empty(0, network.classifier[1].in_features)


def augmented(digits: Sequence[np.ndarray], labels: Sequence[int], *, repeats: int,
              seed: int) -> tuple[Tensor, Tensor]:
    """Each (28, 28) uint8 digit ``repeats`` times, each copy augmented anew -> normalised images and labels."""
    transform = mnist_transform(augment=True)
    torch.manual_seed(seed)
    images = [transform(Image.fromarray(digit, mode="L")) for _ in range(repeats) for digit in digits]
    if not images:
        return torch.empty(0, 1, 28, 28), torch.empty(0, dtype=torch.long)
    return torch.stack(images), torch.tensor([int(label) for label in labels] * repeats, dtype=torch.long)


def scores_of(classifier: torch.nn.Module, features: Tensor, labels: Tensor,
              device: torch.device = torch.device("cpu")) -> Scores:
    """How ``classifier`` reads these features."""
    return evaluate(classifier.to(device), _batches(features, labels, device=device, shuffle=False))


@dataclass(frozen=True)
class ParentBank:
    """What every run from one parent reuses: features of a fixed MNIST replay sample, of the MNIST validation set
    and of held-out non-digits, and the parent's own scores on them."""
    replay_features: Tensor
    replay_labels: Tensor
    validation_features: Tensor
    validation_labels: Tensor
    validation: Scores
    nondigit_features: Tensor
    nondigit_recall: float | None  # None: the parent has no detector
    # Non-digits of the families the detector was trained on, drawn afresh (never the gate's): what the detector
    # still learns "no digit" from while it learns the person's drawings. Empty: the detector is kept as it is.
    training_nondigit_features: Tensor = field(default_factory=lambda: torch.empty(0))


def build_bank(parent: DigitNet, *, replay_digits: Tensor, replay_labels: Tensor, validation_digits: Tensor,
               validation_labels: Tensor, nondigit_digits: Tensor, device: torch.device,
               training_nondigit_digits: Tensor | None = None) -> ParentBank:
    """The bank for ``parent`` from MNIST as uint8 (N, 28, 28) tensors (a random replay sample, and validation)
    and from non-digits drawn and preprocessed as the site would (training.ml.nondigits): ``nondigit_digits`` for the
    gate, never trained on, and ``training_nondigit_digits`` for the detector to learn from."""
    replay = embed(parent, normalise_digits(replay_digits), device=device)
    validation = embed(parent, normalise_digits(validation_digits), device=device)
    nondigits = embed(parent, normalise_digits(nondigit_digits), device=device)
    training_nondigits = (embed(parent, normalise_digits(training_nondigit_digits), device=device)
                          if training_nondigit_digits is not None else torch.empty(0))
    return ParentBank(replay, replay_labels, validation, validation_labels,
                      scores_of(parent.classifier, validation, validation_labels, device),
                      nondigits, nondigit_recall(parent.detector, nondigits), training_nondigits)


def nondigit_recall(detector: torch.nn.Module | None, features: Tensor) -> float | None:
    """The share of these non-digits' features the detector calls no digit (None without a detector or data)."""
    if detector is None or not len(features):
        return None
    detector = detector.cpu().eval()
    with torch.inference_mode():
        return (detector(features)[:, 0] > 0).float().mean().item()


# ---- Held-out drawings ----

def split_holdout(labels: Sequence[int], *, fraction: float, seed: int = 0) -> tuple[list[int], list[int]]:
    """Indices to train on and to hold out: ``fraction`` of each digit's drawings (at least one) for every digit
    with at least HOLDOUT_MIN_PER_DIGIT drawings, chosen at random with a fixed seed."""
    generator = np.random.default_rng(seed)
    train, held_out = [], []
    for digit in sorted(set(labels)):
        indices = [i for i, label in enumerate(labels) if label == digit]
        generator.shuffle(indices)
        keep_out = max(1, round(fraction * len(indices))) if len(indices) >= HOLDOUT_MIN_PER_DIGIT else 0
        held_out += indices[:keep_out]
        train += indices[keep_out:]
    return sorted(train), sorted(held_out)


def held_out_scores(parent: DigitNet, candidate: DigitNet, features: Tensor, labels: Tensor) -> HeldOut:
    """How ``parent`` and ``candidate`` read the held-out drawings' features."""
    if not len(labels):
        return HeldOut(count=0)
    before = _correct(parent.classifier, features, labels)
    after = _correct(candidate.classifier, features, labels)
    per_digit = {}
    for digit in sorted(set(labels.tolist())):
        mask = labels == digit
        per_digit[str(digit)] = {"count": int(mask.sum()), "before": before[mask].float().mean().item(),
                                 "after": after[mask].float().mean().item()}
    return HeldOut(count=len(labels), before=before.float().mean().item(), after=after.float().mean().item(),
                   per_digit=per_digit, not_a_digit=Rate(nondigit_recall(parent.detector, features),
                                                         nondigit_recall(candidate.detector, features)))


def _correct(classifier: torch.nn.Module, features: Tensor, labels: Tensor) -> Tensor:
    classifier = classifier.cpu().eval()
    with torch.inference_mode():
        return classifier(features).argmax(1) == labels


# ---- Training ----

def _batches(features: Tensor, labels: Tensor, *, device: torch.device, shuffle: bool, batch_size: int = 1000,
             seed: int = 0) -> DataLoader:
    dataset = TensorDataset(features.to(device), labels.to(device))
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=torch.Generator().manual_seed(seed))


def train_classifier(parent: DigitNet, user_features: Tensor, user_labels: Tensor, bank: ParentBank,
                     config: AdaptConfig, *, device: torch.device,
                     on_epoch: EpochCallback | None = None) -> tuple[torch.nn.Module, list[dict[str, Any]]]:
    """A copy of the parent's classifier trained on the person's features mixed with the bank's MNIST replay (a
    shared run's whole dense layers); returns it and the per-epoch history (loss, accuracy)."""
    classifier = copy.deepcopy(parent.classifier).to(device)
    history = _fit_with_replay(classifier, user_features, user_labels, bank, config, device=device, on_epoch=on_epoch,
                               learning_rate=config.learning_rate)
    return classifier.cpu().eval(), history


def train_adapter(parent: DigitNet, user_features: Tensor, user_labels: Tensor, bank: ParentBank,
                  config: AdaptConfig, *, device: torch.device,
                  on_epoch: EpochCallback | None = None) -> tuple[PersonalAdapter, list[dict[str, Any]]]:
    """A personal model: a new adapter on ``parent`` whose stroke adapter, dense update and output layer learn the
    person's features mixed with the bank's MNIST replay (the detector's side is taught after,
    adapt_adapter_detector); returns it and the per-epoch history."""
    torch.manual_seed(config.seed)  # the adapter's first numbers
    adapter = PersonalAdapter(copy.deepcopy(parent).cpu(), config.adapter_shape).to(device)
    # The detector's side gets no gradient here (AdamW leaves it alone); the parent's layers are frozen.
    history = _fit_with_replay(adapter.on_trunk().classifier, user_features, user_labels, bank, config, device=device,
                               on_epoch=on_epoch, learning_rate=config.adapter_learning_rate)
    return adapter.cpu().eval(), history


def _fit_with_replay(model: torch.nn.Module, user_features: Tensor, user_labels: Tensor, bank: ParentBank,
                     config: AdaptConfig, *, device: torch.device, on_epoch: EpochCallback | None,
                     learning_rate: float) -> list[dict[str, Any]]:
    """Train ``model`` (trunk features -> logits) on the person's features and the bank's MNIST replay."""
    replay = config.replay_size(len(user_labels))
    features = torch.cat([user_features, bank.replay_features[:replay]])
    labels = torch.cat([user_labels, bank.replay_labels[:replay]])
    loader = _batches(features, labels, device=device, shuffle=True, batch_size=config.batch_size, seed=config.seed)
    fit_config = FitConfig(epochs=config.epochs, learning_rate=learning_rate, seed=config.seed, label_smoothing=0.05)
    with one_thread():
        return fit(model, loader, fit_config, on_epoch=on_epoch)


@contextmanager
def one_thread() -> Iterator[None]:
    """Run PyTorch on one CPU thread inside. Products this small gain little from a second thread (2.1 s against
    2.2 s for 200 drawings on a quiet machine), and a second thread that spins waiting for a busy core made the
    same fit take 25 s instead of 3 s on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def adapt_detector(detector: torch.nn.Module | None, user_features: Tensor, bank: ParentBank, config: AdaptConfig,
                   *, device: torch.device) -> torch.nn.Module | None:
    """A copy of the parent's detector head taught that the person's drawings are digits (see _teach_detector).
    None when there is nothing to keep it honest with (no detector, or no training non-digits in the bank): the
    parent's detector is kept."""
    if detector is None or not len(bank.training_nondigit_features):
        return None
    head = copy.deepcopy(detector.cpu().eval()).to(device)
    return _teach_detector(head, detector.cpu().eval(), lambda features: features, user_features, bank, config,
                           device=device, learning_rate=config.detector_learning_rate)


def adapt_adapter_detector(adapter: PersonalAdapter, teacher: torch.nn.Module | None, user_features: Tensor,
                           bank: ParentBank, config: AdaptConfig, *, device: torch.device) -> None:
    """Teach a personal adapter's detector side, on the features its stroke adapter now makes, what the parent's
    detector (``teacher``) said of everything but the person's drawings, and "digit" of those. Left as it starts
    (the parent's layers) when there is no detector or no training non-digits."""
    if teacher is None or adapter.detector_hidden is None or not len(bank.training_nondigit_features):
        return
    adapter.cpu().eval()  # its stroke adapter, now fixed, makes the head's inputs on the CPU
    head = torch.nn.Sequential(adapter.detector_hidden, torch.nn.ReLU(), adapter.detector_output).to(device)
    _teach_detector(head, teacher.cpu().eval(), adapter.adapt, user_features, bank, config, device=device,
                    learning_rate=config.adapter_detector_learning_rate)
    adapter.cpu().eval()


def _teach_detector(head: torch.nn.Module, teacher: torch.nn.Module, adapt, user_features: Tensor,
                    bank: ParentBank, config: AdaptConfig, *, device: torch.device,
                    learning_rate: float) -> torch.nn.Module:
    """Train ``head`` (reading ``adapt(trunk features)``): "digit" for the person's features, and for the bank's
    MNIST replay and training non-digits whatever ``teacher`` says of their trunk features (distillation:
    everything but the person's drawings is kept as the parent had it), the non-digits weighing as much as the
    digits; then put its threshold back where the teacher refused as many MNIST validation digits. A drawing
    labelled as a digit only ever teaches it "digit"."""
    nondigits = bank.training_nondigit_features
    kept = torch.cat([bank.replay_features, nondigits])
    with torch.no_grad():  # not inference mode: these are inputs and targets of a loss that is differentiated
        teacher_says = torch.sigmoid(teacher(kept)[:, 0])
        inputs = adapt(torch.cat([user_features, kept]))
    targets = torch.cat([torch.zeros(len(user_features)), teacher_says])
    digits = len(user_features) + len(bank.replay_features)
    weights = torch.cat([torch.ones(digits), torch.full((len(nondigits),), digits / len(nondigits))])
    loader = DataLoader(TensorDataset(inputs.to(device), targets.to(device), weights.to(device)),
                        batch_size=config.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(config.seed))
    head.train()
    trained = [parameter for parameter in head.parameters() if parameter.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=learning_rate, weight_decay=1e-4)
    with one_thread():
        for _ in range(config.detector_epochs):
            for batch, target, weight in loader:
                loss = (F.binary_cross_entropy_with_logits(head(batch)[:, 0], target, reduction="none") * weight).mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
    head = head.cpu().eval()
    validation = bank.validation_features
    if len(validation):
        with torch.inference_mode():
            refused = int((teacher(validation)[:, 0] > 0).sum())
            logits = head(adapt(validation))[:, 0]
        # (refused + 0.5) / N: threshold_for floors the share times N, which must come back as ``refused``
        fold_threshold(head, threshold_for(logits, (refused + 0.5) / len(validation)))
    return head


def with_classifier(parent: DigitNet, classifier: torch.nn.Module,
                    detector: torch.nn.Module | None = None) -> DigitNet:
    """A new network: the parent's convolutional stages, ``classifier``, and ``detector`` (the parent's when
    None)."""
    network = copy.deepcopy(parent).cpu()
    network.classifier = copy.deepcopy(classifier).cpu()
    if detector is not None:
        network.detector = copy.deepcopy(detector).cpu()
    return network.eval()


# ---- Gates ----

@dataclass(frozen=True)
class GateRules:
    max_drop: float                    # overall MNIST validation accuracy may fall by at most this
    max_class_drop: float | None = None  # and each digit's by at most this, when set
    max_nondigit_drop: float = 0.03    # held-out non-digits called no digit may fall by at most this


@dataclass(frozen=True)
class GateDecision:
    accepted: bool
    reason: str


def gate(*, parent: Scores, candidate: Scores, held_out: HeldOut, rules: GateRules,
         nondigits: NondigitRecall | None = None) -> GateDecision:
    """Accept a candidate only if it has not forgotten MNIST (overall, and per digit when the rules say), still
    finds non-digits, calls no more of the held-out drawings no digit, and reads them no worse than its parent."""
    drop = parent.accuracy - candidate.accuracy
    if drop > rules.max_drop + 1e-9:
        return GateDecision(False, f"MNIST validation accuracy fell from {parent.accuracy:.2%} to "
                                   f"{candidate.accuracy:.2%} ({drop * 100:.2f} points; at most "
                                   f"{rules.max_drop * 100:.1f} allowed).")
    if rules.max_class_drop is not None:
        for digit, (was, now) in enumerate(zip(parent.per_digit, candidate.per_digit)):
            if was - now > rules.max_class_drop + 1e-9:
                return GateDecision(False, f"MNIST validation accuracy on {digit}s fell from {was:.2%} to {now:.2%} "
                                           f"(at most {rules.max_class_drop * 100:.1f} points allowed per digit).")
    if nondigits is not None and nondigits.before is not None:
        after = nondigits.after or 0.0
        if nondigits.before - after > rules.max_nondigit_drop + 1e-9:
            return GateDecision(False, f"It found fewer drawings that are no digit: {nondigits.before:.1%} → "
                                       f"{after:.1%} of {nondigits.count} (at most "
                                       f"{rules.max_nondigit_drop * 100:.0f} points may be lost).")
    refused = held_out.not_a_digit
    if refused.before is not None and refused.after is not None and refused.after > refused.before + 1e-9:
        return GateDecision(False, f"Of the drawings it did not train on, it called more no digit: "
                                   f"{refused.before:.1%} → {refused.after:.1%}.")
    mnist = f"MNIST validation {parent.accuracy:.2%} → {candidate.accuracy:.2%}"
    if not held_out.count:
        return GateDecision(True, f"{mnist}; too few drawings to hold any out, so none were measured.")
    if held_out.after < held_out.before:
        return GateDecision(False, f"On drawings it did not train on, accuracy fell from {held_out.before:.1%} to "
                                   f"{held_out.after:.1%}.")
    called = (f"; called no digit {refused.before:.1%} → {refused.after:.1%}" if refused.before else "")
    return GateDecision(True, f"{mnist}; held-out drawings {held_out.before:.1%} → {held_out.after:.1%}{called}.")
