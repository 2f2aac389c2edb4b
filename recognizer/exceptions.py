"""Domain errors the services raise. Each is a Refusal: words for the person, the HTTP status the API answers it
with, and, when trying again later may work, how long to wait. recognizer.api.answered() turns any Refusal into
{"error": ...} with that status: the one way an error reaches its status."""

from .ml.decoding import InvalidImage


class Refusal(Exception):
    """Something the site will not do; ``str(refusal)`` says why, for a person."""

    status = 400
    retry_after: int | None = None  # seconds; None when waiting would not help

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        if retry_after is not None:
            self.retry_after = retry_after


class UnreadableImage(Refusal, InvalidImage):
    """The posted bytes are no image the site can read, or hold no digit: the ML layer's InvalidImage, refused."""


class NoActiveModel(Refusal):
    """No model version is active, or its weights cannot be loaded."""

    status = 503


class InvalidModelVersion(Refusal):
    """A model version cannot be activated (its weights are missing or damaged, or it is personal)."""


class SampleLimitReached(Refusal):
    """The session, or its network today, keeps as many samples as it may."""

    status = 429


class SiteFull(Refusal):
    """The site holds as many unreviewed samples as it may (MAX_UNREVIEWED_SAMPLES): staff must review first."""

    status = 503
    retry_after = 600


STORE_RETRY_AFTER = 5  # seconds a client is asked to wait when the file store cannot be reached


class StoreUnavailable(Refusal):
    """The store that keeps samples' files or model weights cannot be reached."""

    status = 503
    retry_after = STORE_RETRY_AFTER


class SampleUnreadable(Exception):
    """A sample's stored 28x28 cannot be read: scoring leaves it unscored, a training run fails saying so."""
