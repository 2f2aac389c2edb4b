"""Model versions, predictions and samples: what views and commands call instead of the ORM."""

import csv
import io
import json
import logging
import shutil
import zipfile
from dataclasses import dataclass
from typing import IO

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone
from PIL import Image

from .exceptions import InvalidModelVersion, NoActiveModel, SampleLimitReached
from .inference import forget_active_version, get_predictor
from .ml.checkpoints import CheckpointError, file_sha256, load_checkpoint
from .ml.preprocessing import (
    HIGH_BIT_DEPTH_MODES, decode_image, encode_png, ink_map, prepare_digit, stretched_grey, to_mnist, to_model_input,
)
from .models import ModelVersion, Sample

STORED_DRAWING_SIDE = 1024  # drawings larger than this are stored scaled down

logger = logging.getLogger(__name__)


def model_version_register_base() -> ModelVersion | None:
    """Register the shipped base checkpoint as a version unless it already is one (same SHA-256). On a new site
    it becomes the active version; where versions exist (a site upgraded to a new base model) it is added
    inactive, and staff activate it when they choose. Returns the new version, or None."""
    source = settings.BASE_MODEL_CHECKPOINT
    if not source.exists():
        if not ModelVersion.objects.exists():
            logger.warning("No shipped base model at %s: run `manage.py train_base` to make one.", source)
        return None
    sha256 = file_sha256(source)
    if ModelVersion.objects.filter(weights_sha256=sha256).exists():
        return None
    card = json.loads(settings.BASE_MODEL_CARD.read_text()) if settings.BASE_MODEL_CARD.exists() else {}
    weights_name = f"base-{sha256[:12]}.pt"
    target = settings.MODEL_DIR / weights_name
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or file_sha256(target) != sha256:
        tmp = target.with_suffix(".tmp")
        shutil.copyfile(source, tmp)
        tmp.replace(target)
    metrics = {"mnist_test_accuracy": card.get("test_accuracy"), "per_class_accuracy": card.get("per_class_accuracy"),
               "confusion_matrix": card.get("confusion_matrix")}
    first = not ModelVersion.objects.exists()
    version = ModelVersion.objects.create(
        weights_name=weights_name, weights_sha256=sha256, architecture=load_checkpoint(target)[0].architecture,
        metrics=metrics, notes="shipped base model", is_active=first, activated=timezone.now() if first else None,
    )
    if first:
        _active_version_changed()
    logger.info("Registered the shipped base model as %s%s", version,
                "" if first else " (inactive: activate it in the admin to use it)")
    return version


def model_version_check_weights(*, version: ModelVersion) -> None:
    """Raise InvalidModelVersion unless the version's weights file exists, matches its checksum and loads."""
    try:
        version.load_network()
    except CheckpointError as exc:
        raise InvalidModelVersion(f"{version}: {exc}") from exc


def model_version_activate(*, version: ModelVersion) -> ModelVersion:
    """Make ``version`` the one active version, atomically; refuse one whose weights cannot be loaded."""
    model_version_check_weights(version=version)
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().get(pk=version.pk)
        ModelVersion.objects.filter(is_active=True).exclude(pk=locked.pk).update(is_active=False)
        locked.is_active, locked.activated = True, timezone.now()
        locked.save(update_fields=["is_active", "activated"])
        _active_version_changed()
    version.refresh_from_db()
    logger.info("Activated model %s", version)
    return version


def _active_version_changed() -> None:
    """This process's predictions switch at once (other processes within inference.ACTIVE_ID_TTL_SECONDS): reset
    now, for predictions inside this transaction, and again after commit, for this process's other threads,
    which may have re-read the old id in between."""
    forget_active_version()
    transaction.on_commit(forget_active_version)


@dataclass(frozen=True)
class Prediction:
    digit: int
    confidence: float
    probabilities: list[float]
    model_version: int
    preprocessed: np.ndarray  # the (28, 28) uint8 image the network saw


def prediction_make(*, image_bytes: bytes) -> Prediction:
    """Read a drawing and say which digit it is. Raises InvalidImage or NoActiveModel."""
    return _predict(prepare_digit(image_bytes, max_pixels=settings.MAX_IMAGE_PIXELS))


def _predict(digit_image: np.ndarray) -> Prediction:
    predictor = get_predictor()
    probabilities = predictor.probabilities(to_model_input(digit_image))[0].tolist()
    best = max(range(len(probabilities)), key=probabilities.__getitem__)
    return Prediction(
        digit=best,
        confidence=probabilities[best],
        probabilities=[round(p, 6) for p in probabilities],
        model_version=predictor.version_id,
        preprocessed=digit_image,
    )


def _png_bytes(image: Image.Image) -> bytes:
    if max(image.size) > STORED_DRAWING_SIDE:
        image = image.copy()
        image.thumbnail((STORED_DRAWING_SIDE, STORED_DRAWING_SIDE))
    if image.mode in HIGH_BIT_DEPTH_MODES:  # converting would clip it to white
        image = Image.fromarray(np.round(stretched_grey(image) * 255).astype(np.uint8), mode="L")
    elif image.mode not in {"RGBA", "RGB", "LA", "L"}:
        image = image.convert("RGBA")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def sample_create(*, session_key: str, label: int, image_bytes: bytes) -> Sample:
    """Keep a labelled drawing for this session: the drawing (re-encoded as PNG), the 28x28 digit and what
    the active model made of it. Raises InvalidImage or SampleLimitReached; stores nothing on failure."""
    if Sample.objects.filter(session_key=session_key).count() >= settings.MAX_SAMPLES_PER_SESSION:
        raise SampleLimitReached(
            f"This session already keeps {settings.MAX_SAMPLES_PER_SESSION} samples, the most it may. "
            "Delete some before saving more."
        )
    image = decode_image(image_bytes, max_pixels=settings.MAX_IMAGE_PIXELS)
    digit_image = to_mnist(ink_map(image))
    try:
        prediction: Prediction | None = _predict(digit_image)
    except NoActiveModel:
        prediction = None  # keep the sample all the same; staff can still review and use it
    sample = Sample(
        session_key=session_key, label=label,
        predicted=prediction.digit if prediction else None,
        confidence=prediction.confidence if prediction else None,
        model_version_id=prediction.model_version if prediction else None,
    )
    sample.drawing.save("drawing.png", ContentFile(_png_bytes(image)), save=False)
    sample.digit.save("digit.png", ContentFile(encode_png(digit_image)), save=False)
    try:
        sample.save()
    except BaseException:
        _delete_files(sample)
        raise
    return sample


def _delete_files(sample: Sample) -> None:
    for field in (sample.drawing, sample.digit):
        if field.name:
            field.storage.delete(field.name)


def sample_delete_files_on_commit(sample: Sample) -> None:
    """Remove a deleted sample's files once the deletion is committed (never for a rolled-back delete)."""
    transaction.on_commit(lambda: _delete_files(sample))


def samples_for_session(session_key: str) -> QuerySet[Sample]:
    return Sample.objects.filter(session_key=session_key).select_related("model_version")


def sample_counts(samples: QuerySet[Sample]) -> dict[str, int]:
    """How many samples carry each label, for all ten digits."""
    counts = dict(samples.order_by().values_list("label").annotate(n=Count("id")))
    return {str(digit): counts.get(digit, 0) for digit in range(10)}


def sample_delete(*, session_key: str, sample_id: int) -> None:
    """Delete one of this session's samples; Sample.DoesNotExist when it is not this session's."""
    Sample.objects.get(pk=sample_id, session_key=session_key).delete()


def samples_clear(*, session_key: str) -> int:
    """Delete all of this session's samples; return how many."""
    deleted, _ = Sample.objects.filter(session_key=session_key).delete()
    return deleted


def samples_review(samples: QuerySet[Sample], *, status: str) -> int:
    """Approve or reject samples in bulk; return how many changed."""
    return samples.exclude(status=status).update(status=status)


def samples_relabel(samples: QuerySet[Sample], *, label: int) -> int:
    if not 0 <= label <= 9:
        raise ValueError("a label is a digit from 0 to 9")
    return samples.exclude(label=label).update(label=label)


EXPORT_COLUMNS = ["id", "label", "predicted", "confidence", "model_version", "status", "session", "created",
                  "mnist_file", "original_file"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula (OWASP "CSV Injection"): text that
    begins like a formula gets a leading quote. Numbers and None pass unchanged; csv.writer escapes quotes."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return f"'{value}"
    return value


def samples_export_zip(samples: QuerySet[Sample], destination: IO[bytes]) -> int:
    """Write samples as a zip: 28x28 MNIST-form PNGs, the original drawings, and labels.csv. Return the count."""
    count = 0
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        rows = io.StringIO()
        writer = csv.writer(rows)
        writer.writerow(EXPORT_COLUMNS)
        for sample in samples.order_by("id").iterator():
            mnist_name, original_name = f"mnist/{sample.pk}_label{sample.label}.png", f"original/{sample.pk}.png"
            for name, field in ((mnist_name, sample.digit), (original_name, sample.drawing)):
                try:
                    with field.open("rb") as handle:
                        archive.writestr(name, handle.read())
                except FileNotFoundError:
                    logger.warning("Export: %s of sample %s is missing", field.name, sample.pk)
            writer.writerow([spreadsheet_safe(cell) for cell in (
                sample.pk, sample.label, sample.predicted, sample.confidence, sample.model_version_id, sample.status,
                sample.session_key[:8], sample.created.isoformat(), mnist_name, original_name)])
            count += 1
        archive.writestr("labels.csv", rows.getvalue())
    return count


def media_orphans_remove(*, dry_run: bool = False) -> list[str]:
    """Delete files under the samples folder that no Sample refers to; return their names."""
    referenced = set()
    for drawing, digit in Sample.objects.values_list("drawing", "digit").iterator():
        referenced.update((drawing, digit))
    orphans = [name for name in _walk(default_storage, "samples") if name not in referenced]
    if not dry_run:
        for name in orphans:
            default_storage.delete(name)
    return orphans


def _walk(storage, folder: str) -> list[str]:
    if not storage.exists(folder):
        return []
    folders, files = storage.listdir(folder)
    names = [f"{folder}/{name}" for name in files]
    for sub in folders:
        names.extend(_walk(storage, f"{folder}/{sub}"))
    return names
