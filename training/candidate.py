"""Making a candidate model from a parent version and samples: read the drawings, hold some out, adapt, gate.

It produces a candidate and the gate's decision, and promotes nothing: training.services decides what a passing
candidate becomes (a session's personal model, or a shared version awaiting staff).

The MNIST features every run from one parent needs are kept per worker process (``parent_bank``), so only the
first run from a parent pays for them; the worker builds the active version's bank when it starts.
"""

import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from django.conf import settings

from recognizer.ml.figures import Change, HeldOut, NondigitRecall, RunOutcome, Scores, VersionFigures
from recognizer.ml.network import DigitNet
from recognizer.ml.personal import PersonalAdapter
from recognizer.ml.preprocessing import mnist_transform, normalise_digits
from recognizer.models import ModelVersion, Sample
from recognizer.versions import active_version

from .ml.adapt import (
    AdaptConfig, GateDecision, GateRules, ParentBank, adapt_adapter_detector, adapt_detector, augmented, build_bank,
    embed, gate, held_out_scores, nondigit_recall, pick_device, scores_of, split_holdout, train_adapter,
    train_classifier, with_classifier,
)
from .ml.data import mnist_arrays
from .ml.detector import NONDIGIT_SEEDS, nondigit_digits
from .exceptions import NoUsableSamples
from .ml.nondigits import training_families

# Shares of the progress bar: reading the drawings (and, the first time, the parent's MNIST features), training,
# gating. Storing and promoting take the rest.
STAGES = {"load": (0.0, 0.1), "train": (0.1, 0.85), "gate": (0.85, 0.95)}
Progress = Callable[..., None]  # progress(fraction, force=False, **fields to record on the run)


@dataclass
class Candidate:
    network: DigitNet | PersonalAdapter  # a whole network for a shared run, an adapter for a personal one
    decision: GateDecision
    validation_before: Scores
    validation_after: Scores
    held_out: HeldOut
    nondigits: NondigitRecall
    trained_on: int
    history: list[dict[str, Any]]
    seconds: dict[str, float] = field(default_factory=dict)
    test: Scores | None = None  # MNIST test set, measured for shared candidates

    def outcome(self) -> RunOutcome:
        """What the run reports: before and after on MNIST validation and on held-out drawings, and the gate."""
        return RunOutcome(mnist_validation=Change(before=self.validation_before.accuracy,
                                                  after=self.validation_after.accuracy,
                                                  count=self.validation_after.count),
                          held_out=self.held_out, nondigit_recall=self.nondigits, trained_on=self.trained_on,
                          gate=self.decision.reason, accepted=self.decision.accepted, seconds=self.seconds)

    def version_figures(self, *, training_run: int) -> VersionFigures:
        """What the stored version keeps about itself."""
        return VersionFigures(mnist_test=self.test, mnist_validation=self.validation_after,
                              nondigit_recall=self.nondigits.after, held_out=self.held_out, training_run=training_run)


def train_candidate(parent: ModelVersion, samples: list[Sample], config: AdaptConfig, *, rules: GateRules,
                    progress: Progress, personal: bool, with_test_set: bool = False) -> Candidate:
    """A candidate from ``parent`` and the samples: for one person (``personal``) a PersonalAdapter on the
    parent's trunk, else a whole network whose dense layers learnt everyone's samples."""
    seconds, device = {}, pick_device(settings.TRAINING_DEVICE)
    started = time.perf_counter()
    digits, labels = [sample.stored_digit() for sample in samples], [sample.label for sample in samples]
    if not digits:
        raise NoUsableSamples("Every sample of this run was deleted before it started; nothing was trained.")
    train_ids, held_ids = split_holdout(labels, fraction=settings.HOLDOUT_FRACTION, seed=config.seed)
    parent_network = parent.load_network()  # checked against its stored checksum first
    bank = parent_bank(parent, parent_network, device)
    seconds["load"] = _lap(started)
    progress(STAGES["load"][1], force=True)

    started = time.perf_counter()
    images, image_labels = augmented([digits[i] for i in train_ids], [labels[i] for i in train_ids],
                                     repeats=config.user_repeats, seed=config.seed)
    history: list[dict[str, Any]] = []

    def on_epoch(record: dict[str, Any]) -> None:
        history.append(record)
        start, end = STAGES["train"]
        progress(start + (end - start) * len(history) / config.epochs, history=history)

    user_features = embed(parent_network, images, device=device)
    if personal:  # a few weights of the person's own on the parent's trunk
        network = train_adapter(parent_network, user_features, image_labels, bank, config, device=device,
                                on_epoch=on_epoch)[0]
        adapt_adapter_detector(network, parent_network.detector, user_features, bank, config, device=device)
        reads = network.on_trunk()
    else:  # a shared version stays a whole network
        classifier, _ = train_classifier(parent_network, user_features, image_labels, bank, config, device=device,
                                         on_epoch=on_epoch)
        detector = adapt_detector(parent_network.detector, user_features, bank, config, device=device)
        network = reads = with_classifier(parent_network, classifier, detector)
    seconds["train"] = _lap(started)

    started = time.perf_counter()
    after = scores_of(reads.classifier, bank.validation_features, bank.validation_labels, device)
    nondigits = NondigitRecall(len(bank.nondigit_features), bank.nondigit_recall,
                               nondigit_recall(reads.detector, bank.nondigit_features))
    held_features = embed(parent_network, normalise_digits(torch.from_numpy(np.stack([digits[i] for i in held_ids])))
                          if held_ids else torch.empty(0, 1, 28, 28), device=device)
    held_out = held_out_scores(parent_network, reads, held_features,
                               torch.tensor([labels[i] for i in held_ids], dtype=torch.long))
    decision = gate(parent=bank.validation, candidate=after, held_out=held_out, rules=rules, nondigits=nondigits)
    test = _test_scores(network, device) if with_test_set else None
    seconds["gate"] = _lap(started)
    progress(STAGES["gate"][1], force=True)
    return Candidate(network=network, decision=decision, validation_before=bank.validation, validation_after=after,
                     held_out=held_out, nondigits=nondigits, trained_on=len(train_ids), history=history,
                     seconds=seconds, test=test)


def _lap(started: float) -> float:
    return round(time.perf_counter() - started, 3)


def _test_scores(network: DigitNet, device: torch.device) -> Scores:
    images, labels = mnist_arrays(settings.MNIST_DATA_DIR, split="test")
    return scores_of(network.classifier, embed(network, normalise_digits(images), device=device), labels, device)


# ---- The parent's MNIST features, once per worker process ----

_banks: dict[tuple, ParentBank] = {}
_banks_lock = threading.Lock()


def parent_bank(parent: ModelVersion, network: DigitNet, device: torch.device) -> ParentBank:
    """The replay and validation features of ``parent``, built on first use; one parent is kept at a time (the
    shared active version, which every personal run starts from)."""
    key = (parent.pk, parent.weights_sha256, settings.FINE_TUNE_VALIDATION_LIMIT, settings.FINE_TUNE["replay"],
           settings.GATE_NONDIGITS_PER_FAMILY, settings.FINE_TUNE_NONDIGITS_PER_FAMILY)
    with _banks_lock:
        if key not in _banks:
            _banks.clear()
            _banks[key] = _build_bank(network, device)
        return _banks[key]


def _build_bank(network: DigitNet, device: torch.device) -> ParentBank:
    train_images, train_labels = mnist_arrays(settings.MNIST_DATA_DIR, split="train")
    picked = torch.randperm(len(train_images), generator=torch.Generator().manual_seed(0))
    picked = picked[:settings.FINE_TUNE["replay"]]
    validation_images, validation_labels = mnist_arrays(settings.MNIST_DATA_DIR, split="validation")
    limit = settings.FINE_TUNE_VALIDATION_LIMIT
    return build_bank(network, replay_digits=train_images[picked], replay_labels=train_labels[picked],
                      validation_digits=validation_images[:limit], validation_labels=validation_labels[:limit],
                      nondigit_digits=gate_nondigits(settings.GATE_NONDIGITS_PER_FAMILY),
                      training_nondigit_digits=training_nondigits(settings.FINE_TUNE_NONDIGITS_PER_FAMILY),
                      device=device)


@functools.cache
def gate_nondigits(per_family: int) -> torch.Tensor:
    """The held-out non-digits the gate checks every candidate's detector on, drawn once per process (about 9 ms
    each) whichever parent the bank is for."""
    return nondigit_digits(training_families(), count=per_family, seed=NONDIGIT_SEEDS["validation"], processes=1)[0]


@functools.cache
def training_nondigits(per_family: int) -> torch.Tensor:
    """Non-digits of the same families a fine-tune's detector keeps learning "no digit" from, drawn once per
    process from the detector's own training seed: never the gate's drawings."""
    return nondigit_digits(training_families(), count=per_family, seed=NONDIGIT_SEEDS["train"], processes=1)[0]


def warm_up() -> None:
    """Build the shared active version's bank now (a worker starting), and import the augmentation (torchvision's
    transforms take seconds to import), so the first run waits for neither."""
    mnist_transform(augment=True)
    parent = active_version()
    if parent is not None:
        parent_bank(parent, parent.load_network(), pick_device(settings.TRAINING_DEVICE))
