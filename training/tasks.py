"""Background tasks: fetch the row by id and hand it to the service, nothing more."""

from django_tasks import task

from .services import training_run_execute


@task()
def fine_tune_run(run_id: int) -> None:
    training_run_execute(run_id=run_id)
