"""Domain errors the services raise; views turn each into a clear 4xx or 503 answer."""


class NoActiveModel(Exception):
    """No model version is active, or its weights cannot be loaded."""


class InvalidModelVersion(Exception):
    """A model version cannot be activated (its weights are missing or damaged)."""


class SampleLimitReached(Exception):
    """The session keeps as many samples as it may."""


STORE_RETRY_AFTER = 5  # seconds a client is asked to wait when the file store cannot be reached


class StoreUnavailable(Exception):
    """The store that keeps samples' files or model weights cannot be reached."""
