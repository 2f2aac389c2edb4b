"""Which network reads a drawing, and the per-process cache of loaded networks.

A request is read by its session's personal model when the session has one switched on, otherwise by the shared
active version. Loaded networks are kept by version id in a bounded LRU (PredictorCache), so a web process
serves many personal models without loading one per request, and the shared one stays hot.

The shared active version's id is read with one indexed query at most every ACTIVE_ID_TTL_SECONDS, so a version
activated by the admin or by the training worker (another process: signals would not reach us) is picked up by
every web process within about a second, without a restart. An activation in this process resets the cached id
(forget_active_version), so this process switches at once. A session's personal pointer is read on each of its
requests (one indexed query): a personal model is served from the very next prediction after training.
"""

import gc
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import torch
from django.conf import settings
from django.db import DatabaseError, connection

from .exceptions import NoActiveModel
from .ml.checkpoints import CheckpointError
from .ml.network import DigitNet, for_serving
from .ml.personal import PersonalNetwork
from .ml.reader import Reading, probabilities, read
from .models import ModelVersion, PersonalModel
from .visitors import Visitor

logger = logging.getLogger(__name__)

# A version whose weights would not load is retried only after this long, so requests don't queue behind a
# failing load on every call.
RETRY_BROKEN_SECONDS = 10.0
# How long a process trusts the active version id it last read. Reading it for every prediction costs a query
# each (a network round trip on PostgreSQL); at most two reads a second still let an activation made in another
# process (the admin in another worker, the training worker) reach every web process within about a second.
# Activations made in this process reset it at once.
ACTIVE_ID_TTL_SECONDS = 0.5
PERSONAL_MODEL_NOT_LOADED = ("Your personal model could not be loaded, so the shared model is reading your "
                             "drawings. Train again to make a new one.")


@dataclass(frozen=True)
class Predictor:
    version_id: int
    network: DigitNet
    personal: bool = False

    def probabilities(self, batch: torch.Tensor) -> torch.Tensor:
        """(N, 1, 28, 28) normalised images -> (N, 10) class probabilities."""
        return probabilities(self.network, batch)

    def read(self, batch: torch.Tensor) -> list[Reading]:
        return read(self.network, batch)


@dataclass(frozen=True)
class Serving:
    """The predictor chosen for a request, and a note for the person when it is not the one they expect."""
    predictor: Predictor
    note: str | None = None


class PredictorCache:
    """Served networks by version id, within a memory budget: the least recently used dropped first, counting what
    each one adds to the process (a full network 2.5 MB, a personal adapter 0.1 MB: its parent's trunk is
    shared), so thousands of personal models stay loaded. Each version loads under a lock of its own: threads
    asking for one version wait for a single load of it, while other versions load in parallel."""

    def __init__(self, capacity_bytes: int) -> None:
        self.capacity_bytes = capacity_bytes
        self._networks: OrderedDict[int, _Entry] = OrderedDict()
        self._bytes = 0
        self._broken: dict[int, float] = {}  # version id -> when it last failed to load
        self._loading: dict[int, threading.Lock] = {}
        self._lock = threading.Lock()  # guards the dicts and the byte count, never held during a load

    def get(self, version_id: int) -> DigitNet | PersonalNetwork:
        """The served network of a version, loading it if needed; CheckpointError when it cannot be loaded."""
        network = self._cached(version_id)
        if network is not None:
            return network
        with self._lock:
            loading = self._loading.setdefault(version_id, threading.Lock())
        with loading:
            network = self._cached(version_id)  # another thread may have loaded it meanwhile
            if network is not None:
                return network
            failed_at = self._broken.get(version_id)
            if failed_at is not None and time.monotonic() - failed_at < RETRY_BROKEN_SECONDS:
                raise CheckpointError(f"v{version_id} failed to load less than {RETRY_BROKEN_SECONDS:.0f} s ago")
            try:
                entry = self._load(version_id)
            except CheckpointError:
                with self._lock:
                    self._broken[version_id] = time.monotonic()
                raise
            self._store(version_id, entry)
        return entry.network

    def _load(self, version_id: int) -> "_Entry":
        started = time.perf_counter()
        version = ModelVersion.objects.select_related("parent").filter(pk=version_id).first()
        try:
            if version is None:
                raise CheckpointError("it no longer exists")
            if version.is_adapter:  # a person's few weights on the parent's served trunk, which stays shared
                parent = self.get(version.parent_id) if version.parent_id else None
                if not isinstance(parent, DigitNet):
                    raise CheckpointError("it was trained on a shared model that cannot be loaded")
                network = PersonalNetwork(parent, version.load_adapter(parent))
                entry = _Entry(network, network.resident_bytes(), parent_id=version.parent_id)
            else:
                network = for_serving(version.load_network())
                entry = _Entry(network, sum(p.numel() * p.element_size() for p in network.parameters()))
        except CheckpointError as exc:
            logger.error("Cannot load model %s: %s", version or f"v{version_id}", exc)
            raise
        # A loaded model lives long and holds no reference cycles (refcounting frees an evicted one): moved out of
        # the collector's sight, thousands of them no longer make each full collection pause the worker (566 ms
        # with 2 000 loaded, measured by bench.personal_serving).
        gc.freeze()
        logger.info("Loaded model %s for predictions (%.1f ms, %d KB)", version, (time.perf_counter() - started) * 1000,
                    entry.size // 1024)
        return entry

    def _cached(self, version_id: int) -> DigitNet | PersonalNetwork | None:
        with self._lock:
            entry = self._networks.get(version_id)
            if entry is None:
                return None
            self._networks.move_to_end(version_id)
            if entry.parent_id in self._networks:
                self._networks.move_to_end(entry.parent_id)  # in use through this one: not the least recent
            return entry.network

    def _store(self, version_id: int, entry: "_Entry") -> None:
        with self._lock:
            self._broken.pop(version_id, None)
            self._loading.pop(version_id, None)
            self._networks[version_id] = entry
            self._bytes += entry.size
            while self._bytes > self.capacity_bytes and len(self._networks) > 1:
                dropped_id, dropped = next(iter(self._networks.items()))
                if dropped_id == version_id:
                    break
                del self._networks[dropped_id]
                self._bytes -= dropped.size

    def __contains__(self, version_id: int) -> bool:
        return version_id in self._networks

    def __len__(self) -> int:
        return len(self._networks)

    @property
    def resident_bytes(self) -> int:
        return self._bytes


@dataclass(frozen=True)
class _Entry:
    network: DigitNet | PersonalNetwork
    size: int  # bytes it adds to the process
    parent_id: int | None = None  # a personal adapter's parent, whose trunk it runs on


@dataclass(frozen=True)
class _ActiveId:
    version_id: int | None
    read_at: float  # time.monotonic() when the read began


class ModelServer:
    """Everything this process knows about serving: its cache of loaded networks, the shared active version's id
    as last read (trusted for ACTIVE_ID_TTL_SECONDS), and the shared network last served (kept while a newly
    activated version cannot be loaded). One per process; reset() starts a new one."""

    def __init__(self, cache_bytes: int) -> None:
        self.cache = PredictorCache(capacity_bytes=cache_bytes)
        self._active_id: _ActiveId | None = None
        self._active_id_lock = threading.Lock()  # never held during a query: it guards storing and forgetting
        self._active_id_resets = 0  # counts forget_active_version(): a read begun before one must not be cached
        self._last_shared: Predictor | None = None

    # ---- The shared active version's id, read at most every ACTIVE_ID_TTL_SECONDS ----

    def active_version_id(self) -> int | None:
        """The shared active version's id, as read from the database less than ACTIVE_ID_TTL_SECONDS ago."""
        cached = self._active_id
        if cached is not None and time.monotonic() - cached.read_at < ACTIVE_ID_TTL_SECONDS:
            return cached.version_id
        resets, read_at = self._active_id_resets, time.monotonic()
        version_id = ModelVersion.objects.active().values_list("pk", flat=True).first()
        with self._active_id_lock:
            if resets == self._active_id_resets:  # else this read may predate an activation made here since
                self._active_id = _ActiveId(version_id, read_at)
        return version_id

    def forget_active_version(self) -> None:
        with self._active_id_lock:
            self._active_id, self._active_id_resets = None, self._active_id_resets + 1

    # ---- Choosing the network ----

    def serving(self, visitor: Visitor | None) -> Serving:
        version_id = personal_version_id(visitor.session_key) if visitor else None
        if version_id is None:
            return Serving(self.shared_predictor())
        try:
            return Serving(Predictor(version_id, self.cache.get(version_id), personal=True))
        except CheckpointError:
            return Serving(self.shared_predictor(), note=PERSONAL_MODEL_NOT_LOADED)

    def shared_predictor(self) -> Predictor:
        active_id = self.active_version_id()
        if active_id is None:
            raise NoActiveModel("No model is active yet. Ask staff to activate a model version.")
        last = self._last_shared
        if last is not None and last.version_id == active_id:
            return last
        try:
            predictor = Predictor(active_id, self.cache.get(active_id))
        except CheckpointError as exc:
            if last is None:
                last = self._fallback(broken_id=active_id)
            if last is None:
                raise NoActiveModel(f"The active model v{active_id} cannot be loaded. Ask staff to activate "
                                    "another version.") from exc
            self._last_shared = last
            return last
        self._last_shared = predictor
        return predictor

    def _fallback(self, *, broken_id: int) -> Predictor | None:
        shared = ModelVersion.objects.shared().filter(activated__isnull=False).exclude(pk=broken_id)
        for version in shared.order_by("-created"):
            try:
                network = self.cache.get(version.pk)
            except CheckpointError:
                continue
            logger.warning("Serving %s, the newest loadable version, instead of the active %s until staff activate "
                           "a working version", version, ModelVersion.objects.filter(pk=broken_id).first())
            return Predictor(version.pk, network)
        return None


def _read_one_id(sql: str, model, params: list) -> int | None:
    # Plain SQL on an indexed column skips the ORM's query building (~0.5 ms a prediction).
    with connection.cursor() as cursor:
        cursor.execute(sql.format(table=connection.ops.quote_name(model._meta.db_table)), params)
        row = cursor.fetchone()
    return row[0] if row else None


def personal_version_id(session_key: str) -> int | None:
    """The personal version this session has switched on, if any: read on each of its requests."""
    return _read_one_id("SELECT version_id FROM {table} WHERE session_key = %s AND enabled = %s", PersonalModel,
                        [session_key, True])


# ---- This process's one ModelServer, and the functions the rest of the site calls ----

_server: ModelServer | None = None
_server_lock = threading.Lock()


def model_server() -> ModelServer:
    global _server
    server = _server
    if server is None:
        with _server_lock:
            if _server is None:
                _server = ModelServer(cache_bytes=settings.MODEL_CACHE_MB * 2**20)
            server = _server
    return server


def reset() -> None:
    """Forget every loaded network and id, as a newly started process would (tests, or after changing settings)."""
    global _server
    with _server_lock:
        _server = None


def serving(visitor: Visitor | None) -> Serving:
    """The one answer to "which network reads this visitor's drawings": its personal model when it has one
    switched on, else the shared one (always, for a request with no stored session). A personal model that cannot
    be loaded falls back to the shared one, with a note, never an error."""
    return model_server().serving(visitor)


def shared_predictor() -> Predictor:
    """The shared active version's predictor. While a newly activated version cannot be loaded, the network this
    process already serves stays in use; a process that has none yet falls back to the newest loadable version
    that has been active before (so it passed the gate or staff chose it), never a personal one. NoActiveModel
    when there is nothing to serve."""
    return model_server().shared_predictor()


def active_version_id() -> int | None:
    """The shared active version's id, as this process last read it (at most ACTIVE_ID_TTL_SECONDS ago)."""
    return model_server().active_version_id()


def forget_active_version() -> None:
    """Make the next prediction re-read the active version: call when this process activates one."""
    model_server().forget_active_version()


def configure_for_web() -> None:
    """Give each prediction INFERENCE_THREADS threads: web workers serve many requests side by side."""
    torch.set_num_threads(settings.INFERENCE_THREADS)


def warm_up() -> None:
    """Load the shared model now (a web worker starting up); log, never raise, when there is none to load."""
    try:
        predictor = shared_predictor()
    except (NoActiveModel, DatabaseError) as exc:
        logger.error("No model loaded at start-up: %s", exc)
        return
    logger.info("Web worker ready with model v%s", predictor.version_id)
