"""Background tasks: fetch the row by id and hand it to the service, nothing more; and how each is queued."""

from django.conf import settings
from django_tasks import task

from recognizer.task_queue import STAFF_PRIORITY, task_schedule

from .execution import training_run_execute
from .housekeeping import housekeeping_run


@task()
def fine_tune_run(run_id: int) -> None:
    training_run_execute(run_id=run_id)


@task(priority=STAFF_PRIORITY)
def housekeeping() -> None:
    try:
        housekeeping_run()
    finally:  # whatever happened to this one, the next one comes
        housekeeping_schedule(delay=settings.HOUSEKEEPING_SECONDS)


def housekeeping_schedule(*, delay: float) -> None:
    """Have housekeeping run ``delay`` seconds from now: queue it, or bring forward the one already waiting. Only on
    the database queue (another backend has no worker to run it later)."""
    task_schedule(housekeeping, delay=delay)
