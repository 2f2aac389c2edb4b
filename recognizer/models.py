from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models import Q


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

    @property
    def mnist_accuracy(self) -> float | None:
        """Accuracy on the MNIST test set as a fraction, when it was measured."""
        return self.metrics.get("mnist_test_accuracy")
