import uuid
from pathlib import Path
from typing import NamedTuple

import numpy as np
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from PIL import Image

from .exceptions import SampleUnreadable, StoreUnavailable
from .ml.checkpoints import CheckpointError, file_sha256, load_checkpoint
from .ml.figures import VersionFigures
from .ml.network import DigitNet
from .ml.personal import (
    ADAPTER_FORMAT, AdapterError, PersonalAdapter, PersonalNetwork, adapter_from_bytes, bytes_sha256,
)
from .ml.preprocessing import FIELD
from .ml.reader import DIGIT, NOT_A_DIGIT, UNSURE
from .visitors import Visitor
from .weights import weights_local_path


class ModelVersionQuerySet(models.QuerySet):
    def shared(self) -> "ModelVersionQuerySet":
        return self.filter(kind=ModelVersion.Kind.SHARED)

    def active(self) -> "ModelVersionQuerySet":
        """The shared version that serves everyone: at most one row (a constraint says so). The only place that
        asks which version is active; versions.active_version() and inference.active_version_id() call it."""
        return self.filter(kind=ModelVersion.Kind.SHARED, is_active=True)

    def owned_by(self, visitor: Visitor) -> "ModelVersionQuerySet":
        """The personal versions of this visitor: never a shared one, whatever the visitor is."""
        return self.filter(kind=ModelVersion.Kind.PERSONAL, owner=visitor.session_key)


class ModelVersion(models.Model):
    """One stored set of DigitNet weights. Shared versions serve everyone; exactly one of them is active.
    A personal version serves only its owner's browser session, through PersonalModel. Which one a version is, is
    its ``kind``, and the database holds every shared version ownerless and every personal one owned."""

    class Kind(models.TextChoices):
        SHARED = "shared", "Shared"
        PERSONAL = "personal", "Personal"

    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SHARED, db_index=True)
    owner = models.CharField(max_length=40, null=True, blank=True, db_index=True,
                             help_text="the session key whose personal model this is; none for shared versions")
    gate_passed = models.BooleanField(null=True, blank=True,
                                      help_text="the quality gate's verdict; empty for versions that met no gate")
    gate_reason = models.TextField(blank=True)
    trained_on = models.PositiveIntegerField(default=0, help_text="drawings the fine-tune trained on")
    number = models.PositiveIntegerField(null=True, blank=True,
                                         help_text="a personal model's number for its owner, given when it becomes "
                                                   "theirs: their model #1, #2 after a retrain; none for shared ones")
    weights_name = models.CharField(max_length=200, unique=True, help_text="file name under MODEL_DIR")
    weights_sha256 = models.CharField(max_length=64)
    weights_bytes = models.PositiveIntegerField(null=True, blank=True, help_text="the stored weights' size")
    architecture = models.CharField(max_length=50)
    metrics = models.JSONField(default=dict, blank=True)
    notes = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=False, db_index=True)
    created = models.DateTimeField(auto_now_add=True)
    activated = models.DateTimeField(null=True, blank=True, help_text="when this version last became active")

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="one_active_model_version"),
            models.CheckConstraint(condition=Q(is_active=False) | Q(kind="shared"), name="only_shared_versions_are_active"),
            models.CheckConstraint(condition=Q(kind="shared", owner__isnull=True)
                                   | (Q(kind="personal", owner__isnull=False) & ~Q(owner="")),
                                   name="shared_versions_have_no_owner_personal_ones_have_one"),
        ]

    objects = ModelVersionQuerySet.as_manager()

    def __str__(self) -> str:
        return f"v{self.pk}" + (f" ({self.notes})" if self.notes else "")

    @property
    def is_personal(self) -> bool:
        return self.kind == self.Kind.PERSONAL

    @property
    def is_rejected(self) -> bool:
        return self.gate_passed is False

    @property
    def weights_path(self) -> Path:
        """The local file this version's checkpoint is loaded from: in MODEL_DIR, or, when the weights are in
        object storage, this host's checked copy (fetched on first use; recognizer/weights.py). Raises
        CheckpointError when it cannot be fetched."""
        return weights_local_path(self.weights_name, self.weights_sha256)

    def checked_weights(self) -> Path:
        """The local weights file, once it is there and matches its stored checksum; raises CheckpointError saying
        what is wrong (missing, changed since stored, not fetchable)."""
        path = self.weights_path
        if not path.exists():
            raise CheckpointError(f"weights file {path.name} is missing")
        self._check_sha256(file_sha256(path), path)
        return path

    def checked_weights_bytes(self) -> bytes:
        """The weights themselves, read once and checked against the stored checksum (a personal adapter is
        parsed from memory); CheckpointError as checked_weights says."""
        path = self.weights_path
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise CheckpointError(f"weights file {path.name} is missing") from exc
        self._check_sha256(bytes_sha256(data), path)
        return data

    def _check_sha256(self, sha256: str, path: Path) -> None:
        if sha256 != self.weights_sha256:
            raise CheckpointError(f"weights file {path.name} has changed since it was stored (checksum)")

    def weights_problem(self) -> str | None:
        """What is wrong with this version's weights, or None."""
        try:
            self.checked_weights()
        except CheckpointError as exc:
            return str(exc)
        return None

    @property
    def is_adapter(self) -> bool:
        """A personal model stored as a few weights on its parent's trunk (recognizer.ml.personal), not a full
        network (personal models trained before adapters, and every shared version, are full networks)."""
        return self.architecture == ADAPTER_FORMAT

    def load_network(self) -> DigitNet | PersonalNetwork:
        """This version's network, from its checked weights file (and its parent's, for an adapter); raises
        CheckpointError saying why not."""
        if self.is_adapter:
            parent_network = self._adapter_parent().load_network()
            return PersonalNetwork(parent_network, self.load_adapter(parent_network))
        network, _ = load_checkpoint(self.checked_weights())
        return network

    def load_adapter(self, parent_network: DigitNet) -> PersonalAdapter:
        """This personal version's adapter, on ``parent_network`` (its parent's network: a served one in a web
        process); raises CheckpointError saying why not."""
        parent = self._adapter_parent()
        data = self.checked_weights_bytes()
        try:
            return adapter_from_bytes(data, parent_network, parent_sha256=parent.weights_sha256)
        except AdapterError as exc:
            raise CheckpointError(f"{self}: {exc}") from exc

    def _adapter_parent(self) -> "ModelVersion":
        if self.parent is None:
            raise CheckpointError(f"{self} was trained on a shared model that no longer exists")
        return self.parent

    @property
    def figures(self) -> VersionFigures:
        """What this version keeps about itself (``metrics``), typed: the only way it is read."""
        return VersionFigures.from_json(self.metrics)


class PersonalModel(models.Model):
    """Which personal version serves one browser session, and whether the session wants it (it may switch back
    to the shared model without deleting its own)."""

    session_key = models.CharField(max_length=40, unique=True)
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    enabled = models.BooleanField(default=True, help_text="serve it; off: this session uses the shared model")
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.session_key[:8]} → {self.version}"


def _sample_path(kind: str) -> str:
    # Unguessable and free of user text: the date for tidy folders, a random UUID for the name.
    return f"samples/{timezone.now():%Y/%m}/{uuid.uuid4().hex}-{kind}.png"


def sample_drawing_path(instance: "Sample", filename: str) -> str:
    return _sample_path("drawing")


def sample_digit_path(instance: "Sample", filename: str) -> str:
    return _sample_path("28x28")


class Sample(models.Model):
    """A labelled drawing kept by one browser session, for review and fine-tuning."""

    class Verdict(models.TextChoices):  # recognizer.ml.reader's verdicts
        DIGIT = DIGIT, "Digit"
        UNSURE = UNSURE, "Unsure"
        NOT_A_DIGIT = NOT_A_DIGIT, "Not a digit"

    class Status(models.TextChoices):
        NEW = "new", "New"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    session_key = models.CharField(max_length=40, null=True, blank=True, db_index=True,
                                   help_text="the browser session that kept it; none once the session ended and "
                                             "staff kept the sample")
    network = models.CharField(max_length=32, blank=True, db_index=True,
                               help_text="a keyed hash of the client network it came from (a daily budget)")
    label = models.PositiveSmallIntegerField(validators=[MaxValueValidator(9)])
    drawing = models.ImageField(upload_to=sample_drawing_path, help_text="the drawing as posted, re-encoded as PNG")
    digit = models.ImageField(upload_to=sample_digit_path, help_text="the 28x28 MNIST-style image the network saw")
    predicted = models.PositiveSmallIntegerField(null=True, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    verdict = models.CharField(max_length=12, choices=Verdict.choices, blank=True, db_index=True,
                               help_text="what the model made of the drawing; empty when there was no prediction")
    not_a_digit_score = models.FloatField(null=True, blank=True,
                                          help_text="the non-digit detector's score, 0-1 (0.5 and above: no digit)")
    model_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="samples")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW, db_index=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    # What the shared model of the day makes of the sample, refreshed by the worker (recognizer/review.py).
    suspicion = models.FloatField(null=True, blank=True, db_index=True,
                                  help_text="how strongly the scoring model disputes the label: 1 - p(label)")
    scored_by = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                  help_text="the shared version that computed the suspicion")
    scored_digit = models.PositiveSmallIntegerField(null=True, blank=True, help_text="the scoring model's reading")
    scored_confidence = models.FloatField(null=True, blank=True, help_text="its probability")

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [models.CheckConstraint(condition=Q(label__lte=9), name="sample_label_is_a_digit"),
                       models.CheckConstraint(condition=~Q(session_key=""), name="sample_session_is_none_or_a_key")]
        indexes = [models.Index(fields=["network", "created"], name="sample_network_created")]

    def __str__(self) -> str:
        return f"Sample {self.pk}: {self.label}"

    def stored_digit(self) -> np.ndarray:
        """The (28, 28) uint8 image the network saw when the sample was saved, from its file: what scoring and
        training read. SampleUnreadable, saying why, when the file is gone, damaged or another size;
        StoreUnavailable when the store cannot be reached (trying again later may work)."""
        try:
            with self.digit.open("rb") as handle:
                digit = np.array(Image.open(handle).convert("L"), dtype=np.uint8)
        except (OSError, ValueError, SyntaxError) as exc:  # missing, or not a PNG Pillow can read
            raise SampleUnreadable(f"Sample {self.pk}'s image cannot be read ({exc or type(exc).__name__}).") from exc
        except Exception as exc:  # the store's own client errors (S3 unreachable)
            raise StoreUnavailable(f"The store holding sample {self.pk}'s image cannot be reached "
                                   f"({exc or type(exc).__name__}).") from exc
        if digit.shape != (FIELD, FIELD):
            raise SampleUnreadable(f"Sample {self.pk}'s image is {digit.shape[1]}×{digit.shape[0]}, not "
                                   f"{FIELD}×{FIELD}.")
        return digit

    @property
    def model_disagreed(self) -> bool | None:
        """Whether the model predicted another digit than the label (None when there was no prediction)."""
        return None if self.predicted is None else self.predicted != self.label

    @property
    def review_reading(self) -> "ReviewReading | None":
        """What the review queue shows the model reads: the scoring model's reading (recognizer/review.py) once
        there is one, else the reading saved with the sample; None when it was saved with no reading."""
        if self.scored_digit is not None:
            return ReviewReading(self.scored_digit, self.scored_confidence, scored=True, label=self.label)
        if self.predicted is not None:
            return ReviewReading(self.predicted, self.confidence, scored=False, label=self.label)
        return None


class ReviewReading(NamedTuple):
    """A sample's reading as the review queue shows it; ``scored`` is False for the reading saved with the sample."""

    digit: int
    confidence: float | None
    scored: bool
    label: int

    @property
    def disputes_label(self) -> bool:
        """Whether it read another digit than the label: then the queue offers to relabel the sample as it."""
        return self.digit != self.label
