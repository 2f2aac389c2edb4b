"""Background tasks of the recognizer app: each calls its service, and says how it is queued."""

from functools import partial

from django.conf import settings
from django.db import transaction
from django_tasks import task

from .exceptions import NoActiveModel
from .review import samples_score
from .task_queue import SCORING_PRIORITY, task_schedule


@task(priority=SCORING_PRIORITY)
def samples_score_run() -> None:
    try:
        samples_score()
    except NoActiveModel:
        pass  # nothing to score with; activating a version asks again


def scoring_enqueue() -> None:
    """Ask the worker to score now, once the current transaction commits (at once when there is none)."""
    scoring_schedule(delay=0)


def scoring_after_new_sample() -> None:
    """A new sample is scored SCORE_DELAY_SECONDS after its save, with every other sample saved meanwhile."""
    scoring_schedule(delay=settings.SCORE_DELAY_SECONDS)


def scoring_schedule(*, delay: float) -> None:
    """Have the worker score what is not scored ``delay`` seconds after the current transaction commits (a queue
    that fails must not undo the save). On the database queue one scoring task waits at a time: a task not yet
    started covers every sample committed before it starts, so a save finding one waiting only brings it forward
    when it is due later. Two saves in the same instant may both queue one; the second then finds little to score.
    Another backend has no worker to run a task later: the task is queued at once (the tests' ImmediateBackend
    runs it there and then)."""
    transaction.on_commit(partial(_scoring_queue, delay), robust=True)


def _scoring_queue(delay: float) -> None:
    if not task_schedule(samples_score_run, delay=delay):
        samples_score_run.enqueue()
