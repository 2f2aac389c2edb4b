import uuid
from pathlib import Path

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .ml.checkpoints import CheckpointError, file_sha256, load_checkpoint
from .ml.network import DigitNet


class ModelVersion(models.Model):
    """One stored set of DigitNet weights. Exactly one version is active; predictions use it."""

    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    weights_name = models.CharField(max_length=200, unique=True, help_text="file name under MODEL_DIR")
    weights_sha256 = models.CharField(max_length=64)
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
        ]

    def __str__(self) -> str:
        return f"v{self.pk}" + (f" ({self.notes})" if self.notes else "")

    @property
    def weights_path(self) -> Path:
        """Where this version's checkpoint lives (MODEL_DIR is configurable, so only the name is stored)."""
        return Path(settings.MODEL_DIR) / self.weights_name

    def weights_problem(self) -> str | None:
        """What is wrong with this version's weights file (missing, changed since stored), or None."""
        path = self.weights_path
        if not path.exists():
            return f"weights file {path.name} is missing"
        if file_sha256(path) != self.weights_sha256:
            return f"weights file {path.name} has changed since it was stored (checksum)"
        return None

    def load_network(self) -> DigitNet:
        """This version's network, once its weights file is checked; raises CheckpointError saying why not."""
        problem = self.weights_problem()
        if problem:
            raise CheckpointError(problem)
        network, _ = load_checkpoint(self.weights_path)
        return network

    @property
    def mnist_accuracy(self) -> float | None:
        """Accuracy on the MNIST test set as a fraction, when it was measured."""
        return self.metrics.get("mnist_test_accuracy")


def _sample_path(kind: str) -> str:
    # Unguessable and free of user text: the date for tidy folders, a random UUID for the name.
    return f"samples/{timezone.now():%Y/%m}/{uuid.uuid4().hex}-{kind}.png"


def sample_drawing_path(instance: "Sample", filename: str) -> str:
    return _sample_path("drawing")


def sample_digit_path(instance: "Sample", filename: str) -> str:
    return _sample_path("28x28")


class Sample(models.Model):
    """A labelled drawing kept by one browser session, for review and fine-tuning."""

    class Status(models.TextChoices):
        NEW = "new", "New"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    session_key = models.CharField(max_length=40, db_index=True)
    label = models.PositiveSmallIntegerField(validators=[MaxValueValidator(9)])
    drawing = models.ImageField(upload_to=sample_drawing_path, help_text="the drawing as posted, re-encoded as PNG")
    digit = models.ImageField(upload_to=sample_digit_path, help_text="the 28x28 MNIST-style image the network saw")
    predicted = models.PositiveSmallIntegerField(null=True, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    model_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="samples")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW, db_index=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [models.CheckConstraint(condition=Q(label__lte=9), name="sample_label_is_a_digit")]

    def __str__(self) -> str:
        return f"Sample {self.pk}: {self.label}"

    @property
    def model_disagreed(self) -> bool | None:
        """Whether the model predicted another digit than the label (None when there was no prediction)."""
        return None if self.predicted is None else self.predicted != self.label
