"""Fine-tune jobs: create one (enqueued on commit), run it in the worker, gate it, record everything."""

import copy
import logging
import time
import uuid
from dataclasses import asdict
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from PIL import Image

from recognizer.exceptions import NoActiveModel
from recognizer.inference import ACTIVE_ID_TTL_SECONDS
from recognizer.ml.checkpoints import save_checkpoint
from recognizer.models import ModelVersion, Sample
from recognizer.services import model_version_activate

from .data import mnist_dataset
from .exceptions import NoUsableSamples, SampleUnreadable, TrainingAlreadyOpen, WorkerStopped
from .finetune import DigitArrays, FineTuneConfig, accuracy_on, fine_tune, gate
from .models import TrainingRun

logger = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 1.0
FINE_TUNE_TASK_PATH = "training.tasks.fine_tune_run"  # tasks.py imports this module, so named, not imported
# Share of the progress bar for each stage: evaluate the parent, train, evaluate the candidate.
STAGES = {"before": (0.0, 0.1), "train": (0.1, 0.85), "after": (0.85, 1.0)}


def usable_samples(session_key: str) -> QuerySet[Sample]:
    """This session's samples that staff have not rejected, plus every approved sample."""
    own = Q(session_key=session_key) & ~Q(status=Sample.Status.REJECTED)
    return Sample.objects.filter(own | Q(status=Sample.Status.APPROVED))


def training_runs_fail_stale(*, stale_after: float | None = None) -> int:
    """Mark runs whose worker stopped giving signs of life as failed; return how many."""
    seconds = settings.TRAINING_STALE_SECONDS if stale_after is None else stale_after
    cutoff = timezone.now() - timedelta(seconds=seconds)
    stale = set(TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING, heartbeat__lt=cutoff)
                .values_list("pk", flat=True))
    message = (f"The training worker stopped unexpectedly (no sign of life for {seconds:.0f} s). "
               "The active model was not changed; start a new run.")
    count = TrainingRun.objects.filter(pk__in=stale, status=TrainingRun.Status.RUNNING).update(
        status=TrainingRun.Status.FAILED, finished=timezone.now(), error=message)
    if count:
        logger.warning("Marked %d stale training run(s) as failed", count)
        _task_results_fail(stale, message)
    return count


def _task_results_fail(run_ids: set[int], message: str) -> None:
    """Close the job queue's own records of those runs: a killed worker leaves them 'running' for ever."""
    from django_tasks_db.models import DBTaskResult

    for result in DBTaskResult.objects.running().filter(task_path=FINE_TUNE_TASK_PATH):
        if result.args_kwargs.get("kwargs", {}).get("run_id") in run_ids:
            result.set_failed(WorkerStopped(message))


def training_run_create(*, session_key: str, config: FineTuneConfig | None = None) -> TrainingRun:
    """Queue a fine-tune of the active model on this session's samples; the worker picks it up on commit."""
    config = config or FineTuneConfig(**settings.FINE_TUNE)
    training_runs_fail_stale()
    with transaction.atomic():
        # Locking the active version's row serialises job creation (and activation) across processes.
        parent = ModelVersion.objects.select_for_update().filter(is_active=True).first()
        if parent is None:
            raise NoActiveModel("No model is active, so there is nothing to fine-tune.")
        open_run = TrainingRun.objects.filter(status__in=TrainingRun.OPEN).first()
        if open_run is not None:
            raise TrainingAlreadyOpen(f"Training run {open_run.pk} is already {open_run.status}; "
                                      "wait for it to finish, then try again.")
        if not Sample.objects.filter(session_key=session_key).exclude(status=Sample.Status.REJECTED).exists():
            raise NoUsableSamples("There is nothing to train on yet: save a few labelled drawings first.")
        run = TrainingRun.objects.create(session_key=session_key, parent=parent, params=asdict(config))
        run.samples.set(usable_samples(session_key))
        transaction.on_commit(lambda: _enqueue(run.pk))
    return run


def _enqueue(run_id: int) -> None:
    from .tasks import fine_tune_run  # the task module imports this one

    fine_tune_run.enqueue(run_id=run_id)


def training_run_execute(*, run_id: int) -> TrainingRun:
    """Run a queued job in this (worker) process; record failure and re-raise it."""
    training_runs_fail_stale()
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run_id)
        if run.status != TrainingRun.Status.QUEUED:
            logger.warning("%s is not queued; not running it", run)
            return run
        now = timezone.now()
        run.status, run.started, run.heartbeat = TrainingRun.Status.RUNNING, now, now
        run.save(update_fields=["status", "started", "heartbeat"])
    try:
        _train_and_gate(run)
    except Exception as exc:
        logger.exception("%s failed", run)
        TrainingRun.objects.filter(pk=run.pk).update(
            status=TrainingRun.Status.FAILED, finished=timezone.now(), error=_readable(exc))
        raise
    return run


def _readable(exc: Exception) -> str:
    return str(exc) if str(exc) else type(exc).__name__


class _Progress:
    """Write progress and a heartbeat to the run's row, at most once a second."""

    def __init__(self, run: TrainingRun) -> None:
        self.run_id, self.last = run.pk, 0.0

    def stage(self, name: str, fraction: float, *, force: bool = False) -> None:
        start, end = STAGES[name]
        now = time.monotonic()
        if force or now - self.last >= HEARTBEAT_SECONDS:
            self.last = now
            TrainingRun.objects.filter(pk=self.run_id).update(progress=start + (end - start) * fraction,
                                                              heartbeat=timezone.now())


def _load_digits(samples: list[Sample]) -> tuple[list[np.ndarray], list[int]]:
    digits = []
    for sample in samples:
        try:
            with sample.digit.open("rb") as handle:
                digit = np.asarray(Image.open(handle).convert("L"), dtype=np.uint8)
        except Exception as exc:
            raise SampleUnreadable(f"Sample {sample.pk}'s image cannot be read ({_readable(exc)}).") from exc
        if digit.shape != (28, 28):
            raise SampleUnreadable(f"Sample {sample.pk}'s image is {digit.shape[1]}×{digit.shape[0]}, not 28×28.")
        digits.append(digit.copy())
    return digits, [s.label for s in samples]


def _measure(model, user: DigitArrays, mnist) -> dict:
    on_mnist, on_user = accuracy_on(model, mnist), accuracy_on(model, user)
    return {"mnist_accuracy": on_mnist["accuracy"], "mnist_count": on_mnist["count"],
            "per_class_accuracy": on_mnist["per_class_accuracy"], "confusion_matrix": on_mnist["confusion_matrix"],
            "user_accuracy": on_user["accuracy"], "user_count": on_user["count"]}


def _train_and_gate(run: TrainingRun) -> None:
    config = FineTuneConfig(**run.params)
    progress = _Progress(run)
    digits, labels = _load_digits(list(run.samples.order_by("id")))
    if not digits:
        raise NoUsableSamples("Every sample of this run was deleted before it started; nothing was trained.")
    parent_network = run.parent.load_network()  # checked against its stored checksum first
    user_eval = DigitArrays(digits, labels, augment=False)
    mnist_test = mnist_dataset(settings.MNIST_DATA_DIR, train=False, limit=settings.FINE_TUNE_EVAL_LIMIT)
    before = _measure(parent_network, user_eval, mnist_test)
    progress.stage("before", 1.0, force=True)

    candidate = copy.deepcopy(parent_network)
    history: list[dict] = []

    def on_epoch(record: dict) -> None:
        history.append(record)
        TrainingRun.objects.filter(pk=run.pk).update(history=history)

    fine_tune(candidate, DigitArrays(digits, labels, augment=True, repeats=config.user_repeats),
              mnist_dataset(settings.MNIST_DATA_DIR, train=True, augment=True), config,
              on_batch=lambda i, n, loss, acc: progress.stage("train", (len(history) + (i + 1) / n) / config.epochs),
              on_epoch=on_epoch)
    after = _measure(candidate, user_eval, mnist_test)
    progress.stage("after", 1.0, force=True)
    decision = gate(parent_mnist=before["mnist_accuracy"], candidate_mnist=after["mnist_accuracy"],
                    parent_user=before["user_accuracy"], candidate_user=after["user_accuracy"],
                    max_mnist_drop=settings.FINE_TUNE_MAX_MNIST_DROP)
    version = _store_candidate(run, candidate, after)
    if decision.accepted:
        model_version_activate(version=version)
        # Web processes re-read the active version every ACTIVE_ID_TTL_SECONDS. Report success only once all of
        # them serve the new one: the page then predicts its drawing again, expecting the new version.
        time.sleep(ACTIVE_ID_TTL_SECONDS)
    TrainingRun.objects.filter(pk=run.pk).update(
        status=TrainingRun.Status.SUCCEEDED if decision.accepted else TrainingRun.Status.REJECTED,
        progress=1.0, finished=timezone.now(), result=version, history=history,
        metrics={"before": before, "after": after, "gate": decision.reason, "accepted": decision.accepted},
    )
    logger.info("Training run %s %s: %s", run.pk, "accepted" if decision.accepted else "rejected", decision.reason)


def _store_candidate(run: TrainingRun, network, after: dict) -> ModelVersion:
    """Write the candidate's weights atomically and register it as an inactive version."""
    weights_name = f"run{run.pk}-{uuid.uuid4().hex[:12]}.pt"
    sha256 = save_checkpoint(network, settings.MODEL_DIR / weights_name,
                             metadata={"training_run": run.pk, "parent_version": run.parent_id})
    return ModelVersion.objects.create(
        parent=run.parent, weights_name=weights_name, weights_sha256=sha256, architecture=network.architecture,
        notes=f"fine-tuned by training run {run.pk}",
        metrics={"mnist_test_accuracy": after["mnist_accuracy"], "mnist_test_count": after["mnist_count"],
                 "per_class_accuracy": after["per_class_accuracy"], "confusion_matrix": after["confusion_matrix"],
                 "user_accuracy": after["user_accuracy"], "training_run": run.pk},
    )
