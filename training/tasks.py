"""Background tasks: fetch the row by id and hand it to the service, nothing more."""

from django.conf import settings
from django_tasks import task

from .housekeeping import housekeeping_run, housekeeping_schedule
from .services import STAFF_PRIORITY, training_run_execute


@task()
def fine_tune_run(run_id: int) -> None:
    training_run_execute(run_id=run_id)


@task(priority=STAFF_PRIORITY)
def housekeeping() -> None:
    try:
        housekeeping_run()
    finally:  # whatever happened to this one, the next one comes
        housekeeping_schedule(delay=settings.HOUSEKEEPING_SECONDS)
