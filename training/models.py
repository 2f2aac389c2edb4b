from django.db import models
from django.db.models import Q

from recognizer.ml.figures import RunOutcome
from recognizer.models import ModelVersion, Sample
from recognizer.visitors import Visitor


class TrainingRun(models.Model):
    """One fine-tune job: which samples it used, how it went, and the model version it produced. A personal run
    trains a session's own model; a shared run, started by staff, trains a candidate for everyone."""

    class Kind(models.TextChoices):
        PERSONAL = "personal", "Personal"
        SHARED = "shared", "Shared"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        REJECTED = "rejected", "Rejected by the quality gate"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    OPEN = (Status.QUEUED, Status.RUNNING)

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PERSONAL)
    session_key = models.CharField(max_length=40, null=True, blank=True, db_index=True,
                                   help_text="the session a personal run trains for; none for shared runs")
    network = models.CharField(max_length=32, blank=True, db_index=True,
                               help_text="a keyed hash of the client network that asked (a budget per address)")
    requested_by = models.CharField(max_length=150, blank=True, help_text="the staff user who started a shared run")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    priority = models.IntegerField(default=0, help_text="its place in the worker's queue, highest first: staff's runs "
                                   "above visitors', a visitor's lower for each run its network already had open")
    progress = models.FloatField(default=0.0, help_text="0 to 1")
    history = models.JSONField(default=list, blank=True, help_text="per epoch: loss and accuracy")
    metrics = models.JSONField(default=dict, blank=True, help_text="before and after, on MNIST and the samples")
    params = models.JSONField(default=dict, blank=True)
    parent = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="training_runs")
    result = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="produced_by")
    samples = models.ManyToManyField(Sample, blank=True, related_name="training_runs")
    error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True, help_text="last sign of life from the worker")

    class Meta:
        ordering = ["-id"]
        constraints = [
            # One open run per session (and one open shared run): others are never blocked.
            models.UniqueConstraint(fields=["session_key"], condition=Q(kind="personal", status__in=["queued", "running"]),
                                    name="one_open_run_per_session"),
            models.UniqueConstraint(fields=["kind"], condition=Q(kind="shared", status__in=["queued", "running"]),
                                    name="one_open_shared_run"),
            models.CheckConstraint(condition=Q(kind="shared", session_key__isnull=True)
                                   | (Q(kind="personal", session_key__isnull=False) & ~Q(session_key="")),
                                   name="personal_runs_have_a_session_shared_ones_none"),
        ]

    def __str__(self) -> str:
        return f"Training run {self.pk} ({self.status})"

    @property
    def visitor(self) -> Visitor:
        """The visitor a personal run trains for."""
        return Visitor(session_key=self.session_key, network=self.network)

    @property
    def outcome(self) -> RunOutcome:
        """What this run reports (``metrics``), typed: the only way it is read."""
        return RunOutcome.from_json(self.metrics)
