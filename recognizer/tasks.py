"""Background tasks of the recognizer app: call the service, nothing more."""

from django_tasks import task

from .exceptions import NoActiveModel
from .review import samples_score


@task()
def samples_score_run() -> None:
    try:
        samples_score()
    except NoActiveModel:
        pass  # nothing to score with; activating a version asks again
