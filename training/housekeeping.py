"""The worker's own upkeep, on its own schedule (no cron). A training worker queues a housekeeping task when it
starts, and each housekeeping task queues the next one HOUSEKEEPING_SECONDS later, so one worker or many keep one
waiting between them; a worker that dies mid-task leaves none, and the next worker to start queues one again. As a
task on the queue it runs between runs, never beside one in the same worker.

Housekeeping deletes what nothing needs (recognizer.retention: ended sessions' personal models and samples, old
rejected weights, orphaned files), then finished training runs and the queue's finished task rows older than
TRAINING_RUNS_KEEP_DAYS. A run that made a model still in use (a personal model serving its session, or any
shared version) stays: it is how that model's page tells its training.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from recognizer.models import ModelVersion, PersonalModel
from recognizer.retention import stored_data_clean

from .models import TrainingRun

logger = logging.getLogger(__name__)


def housekeeping_run(*, now: datetime | None = None) -> dict[str, int]:
    """Delete what the site no longer keeps (see the module's docstring); return how many of each went."""
    now = now or timezone.now()
    counts = stored_data_clean(now=now).counts()  # first: a model that went frees the run that made it
    before = now - timedelta(days=settings.TRAINING_RUNS_KEEP_DAYS)
    counts |= {"training_runs": training_runs_prune(before=before), "task_results": task_results_prune(before=before)}
    logger.info("Housekeeping: %s", ", ".join(f"{what} {count}" for what, count in counts.items()))
    return counts


def training_runs_prune(*, before: datetime) -> int:
    """Delete runs that finished before ``before``, except those whose model is still in use; return how many."""
    in_use = ModelVersion.objects.filter(Q(kind=ModelVersion.Kind.SHARED)
                                         | Q(pk__in=PersonalModel.objects.values("version_id"))).values("pk")
    finished = (TrainingRun.objects.exclude(status__in=TrainingRun.OPEN).filter(finished__lt=before)
                .exclude(result__in=in_use))
    _, per_model = finished.delete()
    return per_model.get(TrainingRun._meta.label, 0)


def task_results_prune(*, before: datetime) -> int:
    """Delete the task queue's rows of tasks that finished (succeeded or failed) before ``before``."""
    deleted, _ = DBTaskResult.objects.finished().filter(finished_at__lt=before).delete()
    return deleted
