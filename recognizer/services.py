"""Predictions and samples: what views and commands call instead of the ORM (model versions: versions.py)."""

import csv
import io
import logging
import zipfile
from dataclasses import dataclass
from typing import IO

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count, QuerySet
from PIL import Image

from .exceptions import NoActiveModel, SampleLimitReached
from .inference import serving
from .ml.preprocessing import (
    HIGH_BIT_DEPTH_MODES, decode_image, encode_png, ink_map, prepare_digit, stretched_grey, to_mnist, to_model_input,
)
from .models import Sample
from .review import scoring_after_new_sample

STORED_DRAWING_SIDE = 1024  # drawings larger than this are stored scaled down

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prediction:
    digit: int  # the best guess, whatever the verdict
    confidence: float
    probabilities: list[float]
    verdict: str  # ml.reader's: digit, unsure or not_a_digit
    not_a_digit_score: float | None  # None for a model saved without a detector
    runner_up: int | None
    model_version: int
    personal: bool  # read by the session's own personal model
    preprocessed: np.ndarray  # the (28, 28) uint8 image the network saw
    note: str | None = None  # for the person, when the model reading is not the one they chose


def prediction_make(*, image_bytes: bytes, session_key: str | None = None) -> Prediction:
    """Read a drawing with the model that serves this session and say which digit it is. Raises InvalidImage or
    NoActiveModel."""
    return _predict(prepare_digit(image_bytes, max_pixels=settings.MAX_IMAGE_PIXELS), session_key)


def _predict(digit_image: np.ndarray, session_key: str | None) -> Prediction:
    chosen = serving(session_key)
    reading = chosen.predictor.read(to_model_input(digit_image))[0]
    return Prediction(
        digit=reading.digit, confidence=reading.confidence, probabilities=reading.probabilities,
        verdict=reading.verdict, not_a_digit_score=reading.not_a_digit_score, runner_up=reading.runner_up,
        model_version=chosen.predictor.version_id, personal=chosen.predictor.personal, preprocessed=digit_image,
        note=chosen.note,
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
        prediction: Prediction | None = _predict(digit_image, session_key)
    except NoActiveModel:
        prediction = None  # keep the sample all the same; staff can still review and use it
    sample = Sample(
        session_key=session_key, label=label,
        predicted=prediction.digit if prediction else None,
        confidence=prediction.confidence if prediction else None,
        verdict=prediction.verdict if prediction else "",
        not_a_digit_score=prediction.not_a_digit_score if prediction else None,
        model_version_id=prediction.model_version if prediction else None,
    )
    sample.drawing.save("drawing.png", ContentFile(_png_bytes(image)), save=False)
    sample.digit.save("digit.png", ContentFile(encode_png(digit_image)), save=False)
    try:
        sample.save()
    except BaseException:
        _delete_files(sample)
        raise
    scoring_after_new_sample()
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


def sample_review_decide(*, sample: Sample, decision: str, label: int | None = None) -> str:
    """Apply one reviewer's decision to one sample: approve, reject, or relabel (which also approves: the label is
    now the reviewer's). Return what was done, in words."""
    one = Sample.objects.filter(pk=sample.pk)
    if decision == "relabel":
        samples_relabel(one, label=label)
        samples_review(one, status=Sample.Status.APPROVED)
        return f"Sample {sample.pk} relabelled as {label} and approved."
    samples_review(one, status=Sample.Status.APPROVED if decision == "approve" else Sample.Status.REJECTED)
    return f"Sample {sample.pk} {'approved' if decision == 'approve' else 'rejected'}."


# predicted and confidence are the scoring model's (recognizer/review.py) once a sample is scored, else those of
# the model that read it when it was saved.
EXPORT_COLUMNS = ["id", "label", "predicted", "confidence", "verdict", "not_a_digit_score", "model_version", "status",
                  "session", "created", "mnist_file", "original_file", "suspicion", "scored_by_version"]
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
            scored = sample.scored_digit is not None
            writer.writerow([spreadsheet_safe(cell) for cell in (
                sample.pk, sample.label, sample.scored_digit if scored else sample.predicted,
                sample.scored_confidence if scored else sample.confidence, sample.verdict or None,
                sample.not_a_digit_score, sample.model_version_id, sample.status,
                sample.session_key[:8], sample.created.isoformat(), mnist_name, original_name,
                sample.suspicion, sample.scored_by_id)])
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
