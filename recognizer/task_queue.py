"""Tasks that run a while from now, one waiting at a time, on django-tasks-db's queue (the worker's)."""

from datetime import timedelta

from django.utils import timezone
from django_tasks.base import Task, TaskResultStatus
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult


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
