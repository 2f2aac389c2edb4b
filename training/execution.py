"""Running a training run in the worker: train a candidate, store it, promote it or not, record everything.

A personal run fine-tunes the shared active model on one session's own drawings; when its candidate passes the
gate it serves that session alone (recognizer.versions.personal_model_promote). A shared run, started by staff,
trains on approved samples from every session; a passing candidate waits, inactive, for staff to activate it.
The training itself (training.candidate) knows nothing of either.
"""

import logging
import threading
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from recognizer.models import ModelVersion
from recognizer.versions import (
    model_version_create, model_versions_delete, personal_model_promote, personal_versions_prune,
)

from .candidate import Candidate, train_candidate
from .exceptions import WorkerStopped
from .ml.adapt import AdaptConfig, GateRules
from .models import TrainingRun

logger = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 1.0


def training_run_execute(*, run_id: int) -> TrainingRun:
    """Run a queued job in this (worker) process; record failure and re-raise it."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run_id)
        if run.status != TrainingRun.Status.QUEUED:
            logger.warning("%s is not queued; not running it", run)
            return run
        now = timezone.now()
        run.status, run.started, run.heartbeat = TrainingRun.Status.RUNNING, now, now
        run.save(update_fields=["status", "started", "heartbeat"])
    try:
        _train_and_promote(run)
    except Exception as exc:
        if isinstance(exc, WorkerStopped):
            logger.warning("%s interrupted: the worker is stopping", run)
        else:
            logger.exception("%s failed", run)
        TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.RUNNING).update(
            status=TrainingRun.Status.FAILED, finished=timezone.now(), error=_readable(exc))
        raise
    return run


def _readable(exc: Exception) -> str:
    return str(exc) if str(exc) else type(exc).__name__


# Set by the worker when it is asked to stop (Ctrl-C, a deploy): the run in hand stops at its next progress step,
# within a second or so, and is marked interrupted instead of holding the shutdown until it ends.
worker_stopping = threading.Event()
INTERRUPTED = ("Interrupted: the training worker was stopped while this run trained, so nothing was changed. "
               "Press Train to start again.")


class _Progress:
    """Write progress and a heartbeat to the run's row, at most once a second; stop the run when the worker is
    stopping."""

    def __init__(self, run: TrainingRun) -> None:
        self.run_id, self.last = run.pk, 0.0

    def __call__(self, fraction: float, *, force: bool = False, **fields) -> None:
        if worker_stopping.is_set():
            raise WorkerStopped(INTERRUPTED)
        now = time.monotonic()
        if force or fields or now - self.last >= HEARTBEAT_SECONDS:
            self.last = now
            TrainingRun.objects.filter(pk=self.run_id).update(progress=fraction, heartbeat=timezone.now(), **fields)


def _rules(run: TrainingRun) -> GateRules:
    if run.kind == TrainingRun.Kind.SHARED:
        return GateRules(max_drop=settings.SHARED_MAX_MNIST_DROP, max_class_drop=settings.SHARED_MAX_CLASS_DROP)
    return GateRules(max_drop=settings.FINE_TUNE_MAX_MNIST_DROP)


def _train_and_promote(run: TrainingRun) -> None:
    progress = _Progress(run)
    candidate = train_candidate(run.parent, list(run.samples.order_by("id")), AdaptConfig(**run.params),
                                rules=_rules(run), progress=progress, personal=run.kind == TrainingRun.Kind.PERSONAL,
                                with_test_set=run.kind == TrainingRun.Kind.SHARED)
    started = time.perf_counter()
    version = _store(run, candidate)
    with transaction.atomic():
        # Locked, so that a cancellation (the visitor deleted their model or their data) either lands before this
        # check, and the candidate goes, or waits until the run is finished.
        if not TrainingRun.objects.select_for_update().filter(pk=run.pk, status=TrainingRun.Status.RUNNING).exists():
            model_versions_delete(ModelVersion.objects.filter(pk=version.pk))
            logger.info("%s was cancelled while it trained; its candidate is discarded", run)
            return
        if run.kind == TrainingRun.Kind.PERSONAL:
            if candidate.decision.accepted:
                personal_model_promote(visitor=run.visitor, version=version)
            else:  # a rejected candidate is kept for inspection, within the session's cap
                personal_versions_prune(visitor=run.visitor)
        _finish(run, candidate, version, started)
    logger.info("Training run %s %s: %s", run.pk, "accepted" if candidate.decision.accepted else "rejected",
                candidate.decision.reason)


def _finish(run: TrainingRun, candidate: Candidate, version: ModelVersion, started: float) -> None:
    candidate.seconds["activate"] = round(time.perf_counter() - started, 3)
    accepted = candidate.decision.accepted
    TrainingRun.objects.filter(pk=run.pk).update(
        status=TrainingRun.Status.SUCCEEDED if accepted else TrainingRun.Status.REJECTED,
        progress=1.0, finished=timezone.now(), result=version, history=candidate.history,
        metrics=run.outcome.merged(candidate.outcome()).to_json(),
    )


def _store(run: TrainingRun, candidate: Candidate) -> ModelVersion:
    """Register the candidate as an inactive version: personal ones owned by the run's session."""
    personal = run.kind == TrainingRun.Kind.PERSONAL
    return model_version_create(
        network=candidate.network, name_prefix=f"run{run.pk}",
        metadata={"training_run": run.pk, "parent_version": run.parent_id},
        parent=run.parent, owner=run.visitor if personal else None, trained_on=candidate.trained_on,
        gate_passed=candidate.decision.accepted, gate_reason=candidate.decision.reason,
        notes=f"{'personal' if personal else 'shared'} fine-tune, training run {run.pk}",
        figures=candidate.version_figures(training_run=run.pk),
    )
