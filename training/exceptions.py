"""Why a training run cannot start: Refusals (recognizer/exceptions.py), answered with their status and message."""

from recognizer.exceptions import Refusal


class TrainingRefused(Refusal):
    status = 400


class NoUsableSamples(TrainingRefused):
    status = 400


class TrainingAlreadyOpen(TrainingRefused):
    status = 409


class TooManyOpenRuns(TrainingRefused):
    """The visitor's network has as many runs queued or running as it may have; try again in ``retry_after`` s."""
    status = 429


class TooFewSamples(TrainingRefused):
    """A shared run on so few approved samples that its gate could hold none out to judge it."""
    status = 400


class TooFewSessions(TrainingRefused):
    """A shared run cannot keep every session under its share of the samples."""
    status = 400


class WorkerStopped(Exception):
    """The worker running a job died; recorded on the job queue's own result row."""
