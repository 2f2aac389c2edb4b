"""The figures kept about networks: one type per kind of figure set, one name per figure.

- ``Scores``: how a network reads one labelled set (MNIST test, MNIST validation, a person's drawings).
- ``VersionFigures``: what a stored model version keeps about itself (ModelVersion.metrics).
- ``RunOutcome``: what a training run reports: before and after, the gate, the stage times (TrainingRun.metrics).
- ``ModelCard``: what training the base model measured (recognizer/weights/base.card.json).

Each is written with ``to_json()`` and read with ``from_json()``, and nothing else reads the stored JSON: a
misspelt figure is a TypeError here, not a silent "—" on a page. ``from_json`` refuses keys it does not know, so
old stored JSON is migrated once (recognizer migration 0009, the card rewritten) rather than read two ways.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


def _known(cls, data: dict[str, Any], where: str) -> dict[str, Any]:
    unknown = set(data) - {f.name for f in fields(cls)}
    if unknown:
        raise TypeError(f"{where} holds figures {cls.__name__} does not know: {', '.join(sorted(unknown))}")
    return data


def _without_nones(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


@dataclass(frozen=True)
class Scores:
    """How a network reads one labelled set of images."""
    accuracy: float
    count: int
    per_digit: list[float] | None = None      # accuracy on each true digit, 0 to 9
    confusion: list[list[int]] | None = None  # rows: the true digit; columns: the digit read
    loss: float | None = None                 # mean cross-entropy

    def to_json(self) -> dict[str, Any]:
        return _without_nones(asdict(self))

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Scores | None:
        return None if data is None else cls(**_known(cls, data, "a set's scores"))


@dataclass(frozen=True)
class Rate:
    """The share of some drawings that something is true of, before and after (None: not measured)."""
    before: float | None = None
    after: float | None = None


@dataclass(frozen=True)
class HeldOut:
    """Accuracy before and after on drawings a run did not train on, overall and per digit ({"3": {"count",
    "before", "after"}}), and the share of them called no digit at all."""
    count: int
    before: float | None = None
    after: float | None = None
    per_digit: dict[str, dict[str, Any]] = field(default_factory=dict)
    not_a_digit: Rate = field(default_factory=Rate)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> HeldOut | None:
        if data is None:
            return None
        data = dict(_known(cls, data, "a held-out record"))
        data["not_a_digit"] = Rate(**data.get("not_a_digit") or {})
        return cls(**data)


@dataclass(frozen=True)
class NondigitRecall:
    """How many held-out non-digits the parent and the candidate call no digit (None: no detector)."""
    count: int
    before: float | None
    after: float | None


@dataclass(frozen=True)
class Change:
    """One accuracy before and after a run, on ``count`` images."""
    before: float
    after: float
    count: int


@dataclass(frozen=True)
class VersionFigures:
    """What a model version keeps about itself. A base model measured MNIST test; a fine-tune MNIST validation
    and the drawings it held out; a shared fine-tune both."""
    mnist_test: Scores | None = None
    mnist_validation: Scores | None = None
    nondigit_recall: float | None = None  # of held-out non-digit drawings, the share this version calls so
    held_out: HeldOut | None = None
    training_run: int | None = None       # the run that made it

    def to_json(self) -> dict[str, Any]:
        return _without_nones({
            "mnist_test": self.mnist_test and self.mnist_test.to_json(),
            "mnist_validation": self.mnist_validation and self.mnist_validation.to_json(),
            "nondigit_recall": self.nondigit_recall,
            "held_out": self.held_out and self.held_out.to_json(),
            "training_run": self.training_run,
        })

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> VersionFigures:
        data = _known(cls, data or {}, "a version's metrics")
        return cls(mnist_test=Scores.from_json(data.get("mnist_test")),
                   mnist_validation=Scores.from_json(data.get("mnist_validation")),
                   nondigit_recall=data.get("nondigit_recall"), held_out=HeldOut.from_json(data.get("held_out")),
                   training_run=data.get("training_run"))


@dataclass(frozen=True)
class RunOutcome:
    """What a training run reports, filled in as it goes: a shared run records the sessions it left out when it
    is queued, the rest once its candidate has been judged."""
    left_out: dict[str, int] | None = None          # short session id -> samples left out to keep its share
    mnist_validation: Change | None = None
    held_out: HeldOut | None = None
    nondigit_recall: NondigitRecall | None = None
    trained_on: int | None = None                    # drawings trained on (the held-out ones not counted)
    gate: str | None = None                          # the quality gate's reason, in words
    accepted: bool | None = None
    seconds: dict[str, float] | None = None          # each stage's time, in the order they ran

    def to_json(self) -> dict[str, Any]:
        return _without_nones({
            "left_out": self.left_out,
            "mnist_validation": self.mnist_validation and asdict(self.mnist_validation),
            "held_out": self.held_out and self.held_out.to_json(),
            "nondigit_recall": self.nondigit_recall and asdict(self.nondigit_recall),
            "trained_on": self.trained_on, "gate": self.gate, "accepted": self.accepted, "seconds": self.seconds,
        })

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> RunOutcome:
        data = _known(cls, data or {}, "a run's metrics")
        change, recall = data.get("mnist_validation"), data.get("nondigit_recall")
        return cls(left_out=data.get("left_out"), mnist_validation=change and Change(**change),
                   held_out=HeldOut.from_json(data.get("held_out")),
                   nondigit_recall=recall and NondigitRecall(**recall), trained_on=data.get("trained_on"),
                   gate=data.get("gate"), accepted=data.get("accepted"), seconds=data.get("seconds"))

    def merged(self, later: RunOutcome) -> RunOutcome:
        """This outcome with every figure ``later`` has replacing it."""
        return RunOutcome(**{**{f.name: getattr(self, f.name) for f in fields(self)},
                             **{f.name: getattr(later, f.name) for f in fields(later)
                                if getattr(later, f.name) is not None}})


@dataclass(frozen=True)
class ModelCard:
    """What training the base model from scratch measured, and how it was trained (the shipped card beside the
    base checkpoint). ``detector`` and ``calibration`` are the non-digit detector's and the confidence
    calibration's own records."""
    architecture: str
    parameters: int
    epochs: int
    batch_size: int
    seed: int
    fit_config: dict[str, Any]
    training_examples: int
    data_sha256: dict[str, str]
    validation: str                      # which images the validation figures come from, in words
    mnist_validation: Scores
    mnist_test: Scores
    history: list[dict[str, Any]]
    training_seconds: float
    torch_threads: int
    library_versions: dict[str, str]
    detector: dict[str, Any] | None = None
    calibration: dict[str, Any] | None = None
    checkpoint_sha256: str | None = None

    def to_json(self) -> dict[str, Any]:
        return _without_nones({**asdict(self), "mnist_validation": self.mnist_validation.to_json(),
                               "mnist_test": self.mnist_test.to_json()})

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelCard:
        data = dict(_known(cls, data, "the model card"))
        data["mnist_validation"] = Scores.from_json(data["mnist_validation"])
        data["mnist_test"] = Scores.from_json(data["mnist_test"])
        return cls(**data)

    def version_figures(self) -> VersionFigures:
        """What a version registered from this card keeps."""
        recall = (self.detector or {}).get("validation_nondigit_recall")
        return VersionFigures(mnist_test=self.mnist_test, mnist_validation=self.mnist_validation,
                              nondigit_recall=recall)
