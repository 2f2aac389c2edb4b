"""Training runs: create one (enqueued on commit), find its place in the queue, notice ones whose worker died.
A worker runs them with training.execution.

A personal run fine-tunes the shared active model on one session's own drawings; when its candidate passes the
gate it serves that session alone (recognizer.versions.personal_model_promote). A shared run, started by staff,
trains on approved samples from every session; a passing candidate waits, inactive, for staff to activate it.
The training itself (training.candidate) knows nothing of either.
"""

import logging
from dataclasses import asdict
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django_tasks.base import TASK_MIN_PRIORITY
from django_tasks_db.models import DBTaskResult

from recognizer.exceptions import NoActiveModel
from recognizer.ml.figures import RunOutcome
from recognizer.models import Sample
from recognizer.services import samples_of
from recognizer.task_queue import STAFF_PRIORITY, VISITOR_PRIORITY
from recognizer.versions import active_version
from recognizer.visitors import Visitor

from .exceptions import (
    NoUsableSamples, TooFewSamples, TooFewSessions, TooManyOpenRuns, TrainingAlreadyOpen, TrainingRefused,
    WorkerStopped,
)
from .ml.adapt import HOLDOUT_MIN_PER_DIGIT, AdaptConfig, split_holdout
from .models import TrainingRun
from .tasks import fine_tune_run

logger = logging.getLogger(__name__)
OPEN_RUNS_RETRY_AFTER = 60  # seconds: about a queued run's wait on an idle worker


def personal_samples(visitor: Visitor) -> QuerySet[Sample]:
    """What a personal run trains on: this visitor's own samples that staff have not rejected."""
    return samples_of(visitor).exclude(status=Sample.Status.REJECTED)


def training_runs_fail_stale(*, stale_after: float | None = None) -> int:
    """Mark runs whose worker stopped giving signs of life as failed; return how many."""
    seconds = settings.TRAINING_STALE_SECONDS if stale_after is None else stale_after
    cutoff = timezone.now() - timedelta(seconds=seconds)
    stale = set(TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING, heartbeat__lt=cutoff)
                .values_list("pk", flat=True))
    message = (f"The training worker stopped unexpectedly (no sign of life for {seconds:.0f} s). "
               "No model was changed; start a new run.")
    count = TrainingRun.objects.filter(pk__in=stale, status=TrainingRun.Status.RUNNING).update(
        status=TrainingRun.Status.FAILED, finished=timezone.now(), error=message)
    if count:
        logger.warning("Marked %d stale training run(s) as failed", count)
        _task_results_fail(stale, message)
    return count


def _task_results_fail(run_ids: set[int], message: str) -> None:
    """Close the job queue's own records of those runs: a killed worker leaves them 'running' for ever."""
    for result in DBTaskResult.objects.running().filter(task_path=fine_tune_run.module_path):
        if result.args_kwargs.get("kwargs", {}).get("run_id") in run_ids:
            result.set_failed(WorkerStopped(message))


def training_run_create(*, visitor: Visitor, config: AdaptConfig | None = None) -> TrainingRun:
    """Queue a personal fine-tune of the shared active model on this visitor's own samples; a worker picks it up
    on commit. Other sessions' runs never block it."""
    samples = personal_samples(visitor)
    if not samples.exists():
        raise NoUsableSamples("There is nothing to train on yet: save a few labelled drawings first.")
    return _run_create(kind=TrainingRun.Kind.PERSONAL, visitor=visitor, samples=samples, config=config)


def training_runs_cancel(*, visitor: Visitor) -> int:
    """Cancel this visitor's queued or running personal run: a worker skips a queued one, and a running one
    finishes without keeping what it trained. Return how many were cancelled."""
    return TrainingRun.objects.filter(kind=TrainingRun.Kind.PERSONAL, session_key=visitor.session_key,
                                      status__in=TrainingRun.OPEN).update(
        status=TrainingRun.Status.CANCELLED, finished=timezone.now(), error="Cancelled: you deleted your model.")


def training_run_create_shared(*, requested_by: str, config: AdaptConfig | None = None,
                               enqueue: bool = True) -> TrainingRun:
    """Queue a fine-tune of the shared model on approved samples from every session, no session making up more
    than SHARED_MAX_SESSION_SHARE of them (the run records what it left out). Without ``enqueue`` the caller runs
    it (training_run_execute) instead of a worker."""
    samples, left_out = shared_samples(settings.SHARED_MAX_SESSION_SHARE)
    if not samples:
        raise NoUsableSamples("No samples are approved yet: approve some in the sample review first.")
    if shortfall := shared_samples_shortfall(samples):
        raise TooFewSamples(shortfall)
    return _run_create(kind=TrainingRun.Kind.SHARED, visitor=None, samples=Sample.objects.filter(pk__in=samples),
                       config=config, requested_by=requested_by, enqueue=enqueue, outcome=RunOutcome(left_out=left_out))


def _run_create(*, kind: str, visitor: Visitor | None, samples: QuerySet[Sample], config: AdaptConfig | None,
                requested_by: str = "", enqueue: bool = True, outcome: RunOutcome = RunOutcome()) -> TrainingRun:
    config = config or AdaptConfig(**settings.FINE_TUNE)
    training_runs_fail_stale()  # a run whose worker died must not hold its session's place
    parent = active_version()
    if parent is None:
        raise NoActiveModel("No model is active, so there is nothing to fine-tune.")
    priority = STAFF_PRIORITY if visitor is None else _visitor_priority(visitor)
    try:
        with transaction.atomic():  # the database allows one open run per session (and one shared run)
            run = TrainingRun.objects.create(kind=kind, session_key=visitor.session_key if visitor else None,
                                             network=visitor.network if visitor else "", parent=parent,
                                             params=asdict(config), priority=priority,
                                             requested_by=requested_by, metrics=outcome.to_json())
            run.samples.set(samples)
            if enqueue:
                transaction.on_commit(lambda: _enqueue(run.pk, priority))
    except IntegrityError:
        open_run = TrainingRun.objects.filter(kind=kind, session_key=visitor.session_key if visitor else None,
                                              status__in=TrainingRun.OPEN).first()
        state = open_run.status if open_run else "open"
        whose = "A shared training run" if kind == TrainingRun.Kind.SHARED else "Your training run"
        raise TrainingAlreadyOpen(f"{whose} is already {state}; wait for it to finish, then try again.") from None
    return run


def _visitor_priority(visitor: Visitor) -> int:
    """The queue priority of a new run for this visitor: one lower for each open run of other sessions on its
    network. Raises TooManyOpenRuns when the network already has TRAINING_OPEN_RUNS_PER_NETWORK of them (the
    session's own open run is left to the one-run-per-session constraint, which says so more plainly)."""
    if not visitor.network:
        return VISITOR_PRIORITY
    others = (TrainingRun.objects.filter(kind=TrainingRun.Kind.PERSONAL, network=visitor.network,
                                         status__in=TrainingRun.OPEN).exclude(session_key=visitor.session_key)
              .count())
    if others >= settings.TRAINING_OPEN_RUNS_PER_NETWORK:
        raise TooManyOpenRuns(
            f"{others} training runs from your network are already waiting or running, the most one address may "
            "have at a time. Try again when one of them has finished.", retry_after=OPEN_RUNS_RETRY_AFTER)
    return max(VISITOR_PRIORITY - others, TASK_MIN_PRIORITY)


def shared_samples(max_share: float) -> tuple[list[int], dict[str, int]]:
    """Ids of approved samples to train the shared model on, at most ``max_share`` of them from any one session
    (each session's newest kept), and how many each capped session had left out (by short session id)."""
    per_session = dict(Sample.objects.filter(status=Sample.Status.APPROVED).values_list("session_key")
                       .annotate(n=Count("id")).order_by())
    cap = _session_cap(list(per_session.values()), max_share)
    kept, left_out = [], {}
    for session_key, count in per_session.items():
        ids = Sample.objects.filter(session_key=session_key, status=Sample.Status.APPROVED).order_by("-created", "-id")
        kept += list(ids.values_list("pk", flat=True)[:cap])
        if count > cap:
            left_out[(session_key or "ended")[:8]] = count - cap
    return kept, left_out


def shared_run_plan() -> dict:
    """What a shared run would train on now, for the confirmation page."""
    approved = Sample.objects.filter(status=Sample.Status.APPROVED)
    try:
        kept, left_out = shared_samples(settings.SHARED_MAX_SESSION_SHARE)
        problem = shared_samples_shortfall(kept) if kept else None
    except TrainingRefused as exc:
        kept, left_out, problem = [], {}, str(exc)
    held_out = shared_samples_held_out(kept)
    return {"approved": approved.count(), "sessions": approved.values("session_key").distinct().count(),
            "kept": len(kept), "left_out": left_out, "problem": problem, "min_samples": settings.SHARED_MIN_SAMPLES,
            "held_out": held_out, "trained_on": len(kept) - held_out,
            "max_share": settings.SHARED_MAX_SESSION_SHARE, "parent": active_version(),
            "open_run": TrainingRun.objects.filter(kind=TrainingRun.Kind.SHARED, status__in=TrainingRun.OPEN).first()}


def shared_samples_held_out(sample_ids: list[int]) -> int:
    """How many of these samples a shared run would hold out, never trained on, to judge its candidate."""
    labels = list(Sample.objects.filter(pk__in=sample_ids).values_list("label", flat=True))
    return len(split_holdout(labels, fraction=settings.HOLDOUT_FRACTION)[1])


def shared_samples_shortfall(sample_ids: list[int]) -> str | None:
    """Why these samples are too few for a shared run, in words, or None. A run on 5 samples holds none out, and
    its gate then judges it on MNIST alone: it needs SHARED_MIN_SAMPLES (0: no minimum) and some held out."""
    minimum = settings.SHARED_MIN_SAMPLES
    if not minimum:
        return None
    if len(sample_ids) < minimum:
        return (f"A shared run needs at least {minimum} approved samples it may use, so that its gate can judge it "
                f"on drawings it did not train on: {len(sample_ids)} can be used now. Approve at least "
                f"{minimum - len(sample_ids)} more, from several sessions (no session may make up more than "
                f"{settings.SHARED_MAX_SESSION_SHARE:.0%} of a run).")
    if not shared_samples_held_out(sample_ids):
        return (f"No digit has {HOLDOUT_MIN_PER_DIGIT} approved samples a run may use, so none could be held out "
                f"to judge it: approve at least {HOLDOUT_MIN_PER_DIGIT} of one digit.")
    return None


def _session_cap(counts: list[int], max_share: float) -> int:
    """The largest per-session cap under which no session exceeds ``max_share`` of the samples kept."""
    best = 0
    for cap in range(1, max(counts, default=0) + 1):
        kept = [min(count, cap) for count in counts]
        if max(kept) <= max_share * sum(kept) + 1e-9:
            best = cap
    if counts and best == 0:
        raise TooFewSessions(f"Approved samples come from {len(counts)} session(s): with none allowed more than "
                             f"{max_share:.0%} of a run, approve samples from at least {int(1 / max_share)} sessions.")
    return best


def training_run_queue_position(run: TrainingRun) -> int | None:
    """1 for the next queued run a worker will take, 2 behind it, ...; None once the run is not queued. The worker
    takes runs by priority, then in the order they were queued."""
    if run.status != TrainingRun.Status.QUEUED:
        return None
    ahead = Q(priority__gt=run.priority) | Q(priority=run.priority, pk__lt=run.pk)
    return TrainingRun.objects.filter(ahead, status=TrainingRun.Status.QUEUED).count() + 1


def _enqueue(run_id: int, priority: int) -> None:
    fine_tune_run.using(priority=priority).enqueue(run_id=run_id)
