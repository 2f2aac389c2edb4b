"""The one task queue (django-tasks-db's, served by the training worker): its order, and tasks that run a while
from now, one waiting at a time."""

from datetime import timedelta

from django.utils import timezone
from django_tasks.base import Task, TaskResultStatus
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult

# Served highest priority first, then oldest first (django-tasks-db's claim order). Scoring takes seconds, and staff's
# review order should not wait for visitors' fine-tunes; staff's work (a shared run, housekeeping) goes next. A
# visitor's run is one lower than VISITOR_PRIORITY for each run its network already has open: everyone's first run
# goes before anyone's second, however many sessions one address opens.
SCORING_PRIORITY = 100
STAFF_PRIORITY = 50
VISITOR_PRIORITY = 0


def task_schedule(task: Task, *, delay: float) -> bool:
    """Have ``task`` (one that takes no arguments) run ``delay`` seconds from now: queue it, or bring forward the
    one already waiting (queued, not started) when that one is due later; either way one waits. Only the database
    queue has a worker to run a task later: on another backend nothing is queued, and this returns False."""
    if not isinstance(task.get_backend(), DatabaseBackend):
        return False
    due = timezone.now() + timedelta(seconds=delay)
    waiting = DBTaskResult.objects.filter(task_path=task.module_path, status=TaskResultStatus.READY)
    if waiting.exists():
        waiting.filter(run_after__gt=due).update(run_after=due)
    else:
        task.using(run_after=due).enqueue()  # using() keeps the task's priority
    return True
