"""Writes that touch model versions (and, later, samples). Views and commands call these, never the ORM."""

import json
import logging
import shutil
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import transaction

from .exceptions import InvalidModelVersion
from .inference import get_predictor
from .ml.checkpoints import CheckpointError, file_sha256, load_checkpoint
from .ml.network import ARCHITECTURE
from .ml.preprocessing import prepare_digit, to_model_input
from .models import ModelVersion

logger = logging.getLogger(__name__)


def model_version_register_base() -> ModelVersion | None:
    """Register the shipped base checkpoint as the first, active version; do nothing when any version exists."""
    if ModelVersion.objects.exists():
        return None
    source = settings.BASE_MODEL_CHECKPOINT
    if not source.exists():
        logger.warning("No shipped base model at %s: run `manage.py train_base` to make one.", source)
        return None
    card = json.loads(settings.BASE_MODEL_CARD.read_text()) if settings.BASE_MODEL_CARD.exists() else {}
    sha256 = file_sha256(source)
    weights_name = f"base-{sha256[:12]}.pt"
    target = settings.MODEL_DIR / weights_name
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or file_sha256(target) != sha256:
        tmp = target.with_suffix(".tmp")
        shutil.copyfile(source, tmp)
        tmp.replace(target)
    metrics = {"mnist_test_accuracy": card.get("test_accuracy"), "per_class_accuracy": card.get("per_class_accuracy"),
               "confusion_matrix": card.get("confusion_matrix")}
    version = ModelVersion.objects.create(
        weights_name=weights_name, weights_sha256=sha256, architecture=card.get("architecture", ARCHITECTURE),
        metrics=metrics, notes="shipped base model", is_active=True,
    )
    logger.info("Registered the shipped base model as %s", version)
    return version


def model_version_check_weights(*, version: ModelVersion) -> None:
    """Raise InvalidModelVersion unless the version's weights file exists, matches its checksum and loads."""
    path = version.weights_path
    if not path.exists():
        raise InvalidModelVersion(f"{version}: weights file {path.name} is missing")
    if file_sha256(path) != version.weights_sha256:
        raise InvalidModelVersion(f"{version}: weights file {path.name} has changed since it was stored (checksum)")
    try:
        load_checkpoint(path)
    except CheckpointError as exc:
        raise InvalidModelVersion(f"{version}: {exc}") from exc


def model_version_activate(*, version: ModelVersion) -> ModelVersion:
    """Make ``version`` the one active version, atomically; refuse one whose weights cannot be loaded."""
    model_version_check_weights(version=version)
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().get(pk=version.pk)
        ModelVersion.objects.filter(is_active=True).exclude(pk=locked.pk).update(is_active=False)
        if not locked.is_active:
            locked.is_active = True
            locked.save(update_fields=["is_active"])
    version.refresh_from_db()
    logger.info("Activated model %s", version)
    return version


@dataclass(frozen=True)
class Prediction:
    digit: int
    confidence: float
    probabilities: list[float]
    model_version: int
    preprocessed: np.ndarray  # the (28, 28) uint8 image the network saw


def prediction_make(*, image_bytes: bytes) -> Prediction:
    """Read a drawing and say which digit it is. Raises InvalidImage or NoActiveModel."""
    digit_image = prepare_digit(image_bytes, max_pixels=settings.MAX_IMAGE_PIXELS)
    predictor = get_predictor()
    probabilities = predictor.probabilities(to_model_input(digit_image))[0]
    best = int(probabilities.argmax())
    return Prediction(
        digit=best,
        confidence=float(probabilities[best]),
        probabilities=[round(float(p), 6) for p in probabilities],
        model_version=predictor.version_id,
        preprocessed=digit_image,
    )
