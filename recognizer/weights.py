"""Model weights kept through Django's storage API (``STORAGES["models"]``), and the local file each is loaded from.

On one machine the storage is the folder ``MODEL_DIR`` and a version's file is loaded where it lies. A storage
with no local paths (object storage such as S3, shared by several hosts) is read through a bounded local cache
(``WEIGHTS_CACHE_DIR``, at most ``WEIGHTS_CACHE_BYTES``): a host downloads a version once, keeps it only if it
matches the SHA-256 recorded for the version, and evicts the least recently used files past the bound. Every
load still checks the checksum (``ModelVersion.weights_problem``), so a weights object that was changed or
damaged in the store is never served.
"""

import logging
import os
import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages

from .ml.checkpoints import CheckpointError, file_sha256, save_checkpoint
from .ml.network import DigitNet

logger = logging.getLogger(__name__)


def weights_storage() -> Storage:
    return storages["models"]


def weights_save(network: DigitNet, name: str, *, metadata: dict | None = None) -> str:
    """Store ``network``'s checkpoint under ``name``; return its SHA-256."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        sha256 = save_checkpoint(network, path, metadata=metadata)
        weights_upload(path, name)
    return sha256


def weights_save_bytes(data: bytes, name: str) -> str:
    """Store ``data`` (a personal model's adapter) under ``name``; return its SHA-256."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        weights_upload(path, name)
        return file_sha256(path)


def weights_upload(path: Path, name: str) -> None:
    """Store the checkpoint file at ``path`` under exactly ``name``, replacing what was there."""
    storage = weights_storage()
    if storage.exists(name):
        storage.delete(name)  # a file system storage would otherwise store it under another name
    with open(path, "rb") as handle:
        stored = storage.save(name, File(handle, name=name))
    if stored != name:
        raise CheckpointError(f"weights {name} were stored as {stored}")


def weights_size(name: str) -> int:
    return weights_storage().size(name)


def weights_stored(name: str) -> bool:
    return weights_storage().exists(name)


def weights_delete(names: list[str]) -> None:
    """Delete these weights from the storage and from this host's cache."""
    storage = weights_storage()
    for name in names:
        storage.delete(name)
        (_cache_folder() / name).unlink(missing_ok=True)


def weights_local_path(name: str, sha256: str) -> Path:
    """A local file holding the weights ``name``: the stored file itself when the storage has local paths, else
    this host's cached copy, fetched and checked against ``sha256`` first. Raises CheckpointError when the weights
    cannot be fetched or do not match."""
    storage = weights_storage()
    try:
        return Path(storage.path(name))
    except NotImplementedError:
        return _cached(storage, name, sha256)


def _cache_folder() -> Path:
    return Path(settings.WEIGHTS_CACHE_DIR)


def _cached(storage: Storage, name: str, sha256: str) -> Path:
    folder = _cache_folder()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    if target.exists():
        if file_sha256(target) == sha256:
            os.utime(target)  # recently used: evicted last
            return target
        target.unlink(missing_ok=True)  # damaged on this disk: fetch it again
    fd, part = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, storage.open(name, "rb") as source:
            shutil.copyfileobj(source, out, 1 << 20)
        if file_sha256(Path(part)) != sha256:
            raise CheckpointError(f"weights {name} in the store do not match their checksum")
        os.replace(part, target)
    except CheckpointError:
        raise
    except FileNotFoundError as exc:
        raise CheckpointError(f"weights {name} are missing from the store") from exc
    except Exception as exc:  # the store's client raises its own errors for an unreachable endpoint
        raise CheckpointError(f"weights {name} cannot be fetched from the store: {exc}") from exc
    finally:
        Path(part).unlink(missing_ok=True)
    logger.info("Fetched weights %s into the local cache", name)
    _evict(folder, keep=target)
    return target


def _evict(folder: Path, *, keep: Path) -> None:
    """Delete the least recently used cached weights until the cache fits WEIGHTS_CACHE_BYTES (``keep`` stays)."""
    files = sorted((path for path in folder.iterdir() if path.is_file() and not path.name.startswith(".")),
                   key=lambda path: path.stat().st_mtime)
    total = sum(path.stat().st_size for path in files)
    for path in files:
        if total <= settings.WEIGHTS_CACHE_BYTES:
            break
        if path != keep:
            total -= path.stat().st_size
            path.unlink(missing_ok=True)
