"""Background tasks of the recognizer app: call the service, nothing more."""

from django_tasks import task

from .exceptions import NoActiveModel
from .review import samples_score

# Above every training run on the one queue (training.services.STAFF_PRIORITY and below): a batch of scores takes
# seconds, and staff's review order should not wait for visitors' fine-tunes.
SCORING_PRIORITY = 100


@task(priority=SCORING_PRIORITY)
def samples_score_run() -> None:
    try:
        samples_score()
    except NoActiveModel:
        pass  # nothing to score with; activating a version asks again
