"""The per-process predictor: the active ModelVersion's network, loaded once and swapped when another
version becomes active.

The active version's id is read with one indexed query at most every ACTIVE_ID_TTL_SECONDS, and the network
reloads only when it changed, so a version activated by the admin or by the training worker (another process:
signals would not reach us) is picked up by every web process within about a second, without a restart. An
activation in this process resets the cached id (forget_active_version), so this process switches at once.
"""

import logging
import threading
import time
from dataclasses import dataclass

import torch
from django.conf import settings
from django.db import DatabaseError, connection

from .exceptions import NoActiveModel
from .ml.checkpoints import CheckpointError
from .ml.network import DigitNet, for_serving
from .models import ModelVersion

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Predictor:
    version_id: int
    network: DigitNet

    def probabilities(self, batch: torch.Tensor) -> torch.Tensor:
        """(N, 1, 28, 28) normalised images -> (N, 10) class probabilities."""
        with torch.inference_mode():
            return torch.softmax(self.network(batch.contiguous(memory_format=torch.channels_last)), dim=1)


_lock = threading.Lock()
_current: Predictor | None = None
# A version whose weights would not load, and when: retried only after RETRY_BROKEN_SECONDS, so requests
# don't queue behind a failing load on every call.
_broken: tuple[int, float] | None = None
RETRY_BROKEN_SECONDS = 10.0
# How long a process trusts the active version id it last read. Reading it for every prediction costs a query
# each (a network round trip on PostgreSQL); at most two reads a second still let an activation made in another
# process (the admin in another worker, the training worker) reach every web process within about a second.
# Activations made in this process reset it at once.
ACTIVE_ID_TTL_SECONDS = 0.5


@dataclass(frozen=True)
class _ActiveId:
    version_id: int | None
    read_at: float  # time.monotonic() when the read began


_active_id: _ActiveId | None = None
_active_id_lock = threading.Lock()  # never held during a query: it only guards storing and forgetting the id
_active_id_resets = 0  # counts forget_active_version() calls: a read begun before one must not be cached


def configure_for_web() -> None:
    """Give each prediction INFERENCE_THREADS threads: web workers serve many requests side by side."""
    torch.set_num_threads(settings.INFERENCE_THREADS)


def warm_up() -> None:
    """Load the active model now (a web worker starting up); log, never raise, when there is none to load."""
    try:
        predictor = get_predictor()
    except (NoActiveModel, DatabaseError) as exc:
        logger.error("No model loaded at start-up: %s", exc)
        return
    logger.info("Web worker ready with model v%s", predictor.version_id)


def _active_version_id() -> int | None:
    """The active version's id, as read from the database less than ACTIVE_ID_TTL_SECONDS ago."""
    global _active_id
    cached = _active_id
    if cached is not None and time.monotonic() - cached.read_at < ACTIVE_ID_TTL_SECONDS:
        return cached.version_id
    resets, read_at = _active_id_resets, time.monotonic()
    version_id = _read_active_version_id()
    with _active_id_lock:
        if resets == _active_id_resets:  # else this read may predate an activation made here since it began
            _active_id = _ActiveId(version_id, read_at)
    return version_id


def forget_active_version() -> None:
    """Make the next prediction re-read the active version: call when this process activates one."""
    global _active_id, _active_id_resets
    with _active_id_lock:
        _active_id, _active_id_resets = None, _active_id_resets + 1


def _read_active_version_id() -> int | None:
    # Plain SQL on the indexed flag skips the ORM's query building (~0.5 ms).
    table = connection.ops.quote_name(ModelVersion._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {table} WHERE is_active = %s LIMIT 1", [True])
        row = cursor.fetchone()
    return row[0] if row else None


def get_predictor() -> Predictor:
    """The predictor for the active version, loading it if this process has not yet."""
    active_id = _active_version_id()
    current = _current
    if current is not None and current.version_id == active_id:
        return current
    if active_id is None:
        raise NoActiveModel("No model is active yet. Ask staff to activate a model version.")
    with _lock:
        if _current is not None and _current.version_id == active_id:
            return _current
        if not _recently_broken(active_id):
            _load(active_id)
        if _current is None:
            raise NoActiveModel(f"The active model v{active_id} cannot be loaded. Ask staff to activate another "
                                "version.")
        return _current  # the new version, or the last good one while the new one cannot be loaded


def _recently_broken(version_id: int) -> bool:
    return _broken is not None and _broken[0] == version_id and time.monotonic() - _broken[1] < RETRY_BROKEN_SECONDS


def _load(version_id: int) -> None:
    """Load a version into ``_current`` (call under ``_lock``). When it cannot be loaded, remember that, and
    keep the network already in memory; a process that has none yet falls back to the newest loadable one."""
    global _current, _broken
    version = ModelVersion.objects.get(pk=version_id)
    try:
        network = version.load_network()
    except CheckpointError as exc:
        logger.error("Cannot load the active model %s: %s", version, exc)
        _broken = (version_id, time.monotonic())
        if _current is None:
            _current = _fallback(broken=version)
        return
    _current, _broken = Predictor(version_id=version.pk, network=for_serving(network)), None
    logger.info("Loaded model %s for predictions", version)


def _fallback(*, broken: ModelVersion) -> Predictor | None:
    """The newest version that has been active before (so it passed the gate or staff chose it) and loads.
    Never an untrained network: with none, predictions answer 503."""
    for version in ModelVersion.objects.exclude(pk=broken.pk).filter(activated__isnull=False).order_by("-created"):
        try:
            network = version.load_network()
        except CheckpointError:
            continue
        logger.warning("Serving %s, the newest loadable version, instead of the active %s until staff activate "
                       "a working version", version, broken)
        return Predictor(version_id=version.pk, network=for_serving(network))
    return None
