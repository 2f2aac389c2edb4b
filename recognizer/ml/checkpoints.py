"""Save and load DigitNet checkpoints: a plain dict of tensors and metadata, never a pickled module.

Files are written to a temporary name in the same folder and renamed into place, so a reader never sees
half a file, and loaded with ``weights_only=True`` so a checkpoint cannot run code.
"""

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from .network import DigitNet, UnknownArchitecture
from .preprocessing import MNIST_MEAN, MNIST_STD


class CheckpointError(Exception):
    """The file is missing, unreadable, or not a DigitNet checkpoint."""


def save_checkpoint(model: DigitNet, path: Path, *, metadata: dict[str, Any] | None = None) -> str:
    """Write the model's weights atomically to ``path``; return the file's SHA-256."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "arch": model.architecture,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "mean": MNIST_MEAN,
        "std": MNIST_STD,
        # Plain JSON types only: anything else (a TorchVersion, a numpy float) would not load with weights_only.
        "metadata": json.loads(json.dumps(metadata or {}, default=str)),
    }
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            torch.save(payload, tmp)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return file_sha256(path)


def load_checkpoint(path: Path) -> tuple[DigitNet, dict[str, Any]]:
    """Return the network in eval mode and the checkpoint's metadata; raise CheckpointError if unusable."""
    try:
        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise CheckpointError(f"weights file {path} is missing") from exc
    except Exception as exc:  # torch raises many types for a damaged file
        raise CheckpointError(f"weights file {path} cannot be read: {exc}") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("arch"), str):
        raise CheckpointError(f"weights file {path} is not a DigitNet checkpoint")
    state = payload.get("state_dict")
    try:
        has_detector = isinstance(state, dict) and any(key.startswith("detector.") for key in state)
        model = DigitNet(payload["arch"], detector=has_detector)
        model.load_state_dict(state)
    except UnknownArchitecture as exc:
        raise CheckpointError(f"weights file {path}: {exc}") from exc
    except (KeyError, RuntimeError, TypeError) as exc:
        raise CheckpointError(f"weights file {path} does not fit {payload['arch']}: {exc}") from exc
    model.eval()
    return model, payload.get("metadata", {})


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
