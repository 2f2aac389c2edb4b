"""Domain errors the services raise; views turn each into a clear 4xx or 503 answer."""


class NoActiveModel(Exception):
    """No model version is active, or its weights cannot be loaded."""


class InvalidModelVersion(Exception):
    """A model version cannot be activated (its weights are missing or damaged)."""


class SampleLimitReached(Exception):
    """The session, or its network today, keeps as many samples as it may."""

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SiteFull(Exception):
    """The site holds as many unreviewed samples as it may (MAX_UNREVIEWED_SAMPLES): staff must review first."""

    retry_after = 600  # seconds


STORE_RETRY_AFTER = 5  # seconds a client is asked to wait when the file store cannot be reached


class StoreUnavailable(Exception):
    """The store that keeps samples' files or model weights cannot be reached."""

    retry_after = STORE_RETRY_AFTER
