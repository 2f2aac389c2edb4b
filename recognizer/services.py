"""Predictions and samples: what views and commands call instead of the ORM (model versions: versions.py)."""

import csv
import io
import logging
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from typing import IO

import numpy as np
import torch
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone
from PIL import Image

from .exceptions import NoActiveModel, SampleLimitReached, SiteFull, StoreUnavailable, UnreadableImage
from .inference import Serving, serving
from .ml.decoding import posted_size
from .ml.kept_drawing import kept_drawing
from .ml.numbers import NumberDigit, read_number
from .ml.preprocessing import (
    InvalidImage, decode_image, encode_png, ink_map, located_ink, prepare_digit, to_mnist, to_model_input,
)
from .ml.reader import NOT_A_DIGIT, Reading
from .models import Sample
from .tasks import scoring_after_new_sample
from .visitors import Visitor

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prediction:
    """A digit read for a visitor: the network's Reading, the image it saw, and which model read it."""
    reading: Reading
    preprocessed: np.ndarray  # the (28, 28) uint8 image the network saw
    model_version: int
    personal: bool  # read by the session's own personal model
    note: str | None = None  # for the person, when the model reading is not the one they chose


def refusing_unreadable_images(service: Callable) -> Callable:
    """The ML layer says InvalidImage and knows nothing of answers; a service says UnreadableImage, a Refusal."""
    @wraps(service)
    def wrapper(*args, **kwargs):
        try:
            return service(*args, **kwargs)
        except InvalidImage as exc:
            if isinstance(exc, UnreadableImage):
                raise
            raise UnreadableImage(str(exc)) from exc
    return wrapper


@refusing_unreadable_images
def prediction_make(*, image_bytes: bytes, visitor: Visitor | None = None) -> Prediction:
    """Read a drawing with the model that serves this visitor (the shared one for none) and say which digit it is.
    Raises UnreadableImage or NoActiveModel."""
    return _predict(prepare_digit(image_bytes, max_pixels=settings.MAX_IMAGE_PIXELS), visitor)


def _predict(digit_image: np.ndarray, visitor: Visitor | None) -> Prediction:
    chosen = serving(visitor)
    return Prediction(reading=chosen.predictor.read(to_model_input(digit_image))[0], preprocessed=digit_image,
                      model_version=chosen.predictor.version_id, personal=chosen.predictor.personal,
                      note=chosen.note)


@dataclass(frozen=True)
class NumberReading:
    digits: list[NumberDigit]  # left to right
    number: str | None  # None when a digit is no digit at all
    reason: str | None  # for the person: why there is no number, or that digits touch
    touching: bool  # two digits may touch: the split between them is a guess
    model_version: int
    personal: bool
    note: str | None = None


@refusing_unreadable_images
def number_read(*, image_bytes: bytes, visitor: Visitor | None = None) -> NumberReading:
    """Read a whole number, digit by digit, with the model that serves this visitor. Raises UnreadableImage (for
    too many digits too) or NoActiveModel."""
    image = decode_image(image_bytes, max_pixels=settings.MAX_IMAGE_PIXELS)
    return _read_number(image, serving(visitor))


def _read_number(image: Image.Image, chosen: Serving) -> NumberReading:
    def read(digit_images: np.ndarray):
        return chosen.predictor.read(torch.cat([to_model_input(digit) for digit in digit_images]))

    digits = read_number(located_ink(image), posted_size(image), read)
    touching = [place for place, digit in enumerate(digits, 1) if digit.touching]
    no_digit = [place for place, digit in enumerate(digits, 1) if digit.reading.verdict == NOT_A_DIGIT]
    strays = [place for place in no_digit if place not in touching]  # touching ones are said to touch instead
    reason = None
    if strays:
        reason = (f"{_places(strays, len(digits)).capitalize()} {'does' if len(strays) == 1 else 'do'} not look like "
                  "a digit, so there is no number. Rewrite it, or clear and start again.")
    elif touching:
        outcome = "there is no number" if no_digit else "the split is a guess"
        reason = (f"{_places(touching, len(digits)).capitalize()} may be two digits that touch, so {outcome}. "
                  "Leave a little gap between digits.")
    return NumberReading(
        digits=digits, number=None if no_digit else "".join(str(d.reading.digit) for d in digits), reason=reason,
        touching=bool(touching), model_version=chosen.predictor.version_id, personal=chosen.predictor.personal,
        note=chosen.note)


def _places(places: list[int], count: int) -> str:
    """'the 2nd digit', 'the 1st and 3rd digits' (from the left), or 'the digit' when there is only one."""
    if count == 1:
        return "the drawing"
    ordinals = [f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}" for n in places]
    named = ordinals[0] if len(ordinals) == 1 else f"{', '.join(ordinals[:-1])} and {ordinals[-1]}"
    return f"the {named} digit{'s' if len(places) > 1 else ''} from the left"


@refusing_unreadable_images
def number_samples_create(*, visitor: Visitor, image_bytes: bytes, labels: str) -> list[Sample]:
    """Keep each digit of a number as its own labelled sample, left to right: the digit's part of the drawing,
    its 28x28 and what the model read. ``labels`` holds one digit per digit found (the person's corrections).
    Raises UnreadableImage, NoActiveModel or SampleLimitReached; stores nothing on failure."""
    image = decode_image(image_bytes, max_pixels=settings.MAX_IMAGE_PIXELS)
    reading = _read_number(image, serving(visitor))
    if len(labels) != len(reading.digits):
        found = len(reading.digits)
        raise UnreadableImage(f"The drawing holds {found} digit{'s' if found != 1 else ''}, but {len(labels)} "
                              f"label{'s were' if len(labels) != 1 else ' was'} given: give one per digit, left "
                              "to right.")
    _check_room(visitor, len(labels))
    samples = []
    try:
        with transaction.atomic():
            for digit, label in zip(reading.digits, labels, strict=True):
                samples.append(_sample_save(
                    visitor=visitor, label=int(label), drawing=kept_drawing(image, box=digit.box),
                    digit_image=digit.digit_image, prediction=_prediction_of(digit, reading)))
    except BaseException:
        for sample in samples:
            _delete_files(sample)
        raise
    scoring_after_new_sample()
    return samples


def _prediction_of(digit: NumberDigit, reading: NumberReading) -> Prediction:
    return Prediction(reading=digit.reading, preprocessed=digit.digit_image, model_version=reading.model_version,
                      personal=reading.personal)


def _check_room(visitor: Visitor, wanted: int) -> None:
    """Raise SampleLimitReached (or SiteFull) unless ``wanted`` more samples fit every budget: this session's,
    its network's for the last day, and the site's for unreviewed samples."""
    kept = samples_of(visitor).count()
    if kept + wanted > settings.MAX_SAMPLES_PER_SESSION:
        raise SampleLimitReached(
            f"This session keeps {kept} samples; {wanted} more would pass the {settings.MAX_SAMPLES_PER_SESSION} "
            "it may keep. Delete some before saving more.")
    since = timezone.now() - timedelta(days=1)
    today = Sample.objects.filter(network=visitor.network, created__gte=since).count() if visitor.network else 0
    if today + wanted > settings.MAX_SAMPLES_PER_NETWORK_PER_DAY:
        raise SampleLimitReached(
            f"{today} drawings were saved from your network in the last 24 hours, the most the site keeps from one "
            "address in a day. Try again tomorrow; reading drawings still works.", retry_after=3600)
    if unreviewed_samples_count() + wanted > settings.MAX_UNREVIEWED_SAMPLES:
        raise SiteFull("The site holds as many drawings waiting for review as it can, so it is not keeping new "
                       "ones for now. Reading drawings still works; try saving again later.")


def unreviewed_samples_count() -> int:
    return Sample.objects.filter(status=Sample.Status.NEW).count()


@refusing_unreadable_images
def sample_create(*, visitor: Visitor, label: int, image_bytes: bytes) -> Sample:
    """Keep a labelled drawing for this visitor: the drawing (re-encoded as PNG), the 28x28 digit and what
    the model serving it made of it. Raises UnreadableImage, SampleLimitReached or SiteFull; stores nothing on
    failure."""
    _check_room(visitor, 1)
    image = decode_image(image_bytes, max_pixels=settings.MAX_IMAGE_PIXELS)
    digit_image = to_mnist(ink_map(image))
    try:
        prediction: Prediction | None = _predict(digit_image, visitor)
    except NoActiveModel:
        prediction = None  # keep the sample all the same; staff can still review and use it
    sample = _sample_save(visitor=visitor, label=label, drawing=kept_drawing(image), digit_image=digit_image,
                          prediction=prediction)
    scoring_after_new_sample()
    return sample


def _sample_save(*, visitor: Visitor, label: int, drawing: bytes, digit_image: np.ndarray,
                 prediction: Prediction | None) -> Sample:
    sample = Sample(
        session_key=visitor.session_key, network=visitor.network, label=label,
        predicted=prediction.reading.digit if prediction else None,
        confidence=prediction.reading.confidence if prediction else None,
        verdict=prediction.reading.verdict if prediction else "",
        not_a_digit_score=prediction.reading.not_a_digit_score if prediction else None,
        model_version_id=prediction.model_version if prediction else None,
    )
    try:
        sample.drawing.save("drawing.png", ContentFile(drawing), save=False)
        sample.digit.save("digit.png", ContentFile(encode_png(digit_image)), save=False)
    except Exception as exc:  # the store's client raises its own errors (S3 unreachable, a full disk)
        _delete_files(sample)
        logger.exception("A sample's files could not be stored")
        raise StoreUnavailable("The drawing store cannot be reached just now, so nothing was saved. Try again in a "
                               "moment.") from exc
    try:
        sample.save()
    except BaseException:
        _delete_files(sample)
        raise
    return sample


def _delete_files(sample: Sample) -> None:
    for field in (sample.drawing, sample.digit):
        if field.name:
            try:
                field.storage.delete(field.name)
            except Exception:  # the store cannot be reached: the row is gone, cleanup_media removes the file later
                logger.warning("Could not delete %s; cleanup_media will", field.name, exc_info=True)


def sample_delete_files_on_commit(sample: Sample) -> None:
    """Remove a deleted sample's files once the deletion is committed (never for a rolled-back delete)."""
    transaction.on_commit(lambda: _delete_files(sample))


def samples_of(visitor: Visitor) -> QuerySet[Sample]:
    """This visitor's samples, newest first."""
    return Sample.objects.filter(session_key=visitor.session_key).select_related("model_version")


def sample_counts(samples: QuerySet[Sample]) -> dict[str, int]:
    """How many samples carry each label, for all ten digits."""
    counts = dict(samples.order_by().values_list("label").annotate(n=Count("id")))
    return {str(digit): counts.get(digit, 0) for digit in range(10)}


def sample_delete(*, visitor: Visitor, sample_id: int) -> None:
    """Delete one of this visitor's samples; Sample.DoesNotExist when it is not theirs."""
    samples_of(visitor).get(pk=sample_id).delete()


def samples_clear(*, visitor: Visitor) -> int:
    """Delete all of this visitor's samples; return how many."""
    _, deleted = samples_of(visitor).delete()
    return deleted.get(Sample._meta.label, 0)  # not the training runs' links to them, deleted with them


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
                  "session", "created", "mnist_file", "original_file", "suspicion", "scored_by_version",
                  "read_by_personal_model"]
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
        for sample in samples.select_related("model_version").order_by("id").iterator():
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
                (sample.session_key or "")[:8], sample.created.isoformat(), mnist_name, original_name,
                sample.suspicion, sample.scored_by_id,
                bool(sample.model_version and sample.model_version.is_personal))])
            count += 1
        archive.writestr("labels.csv", rows.getvalue())
    return count


def media_orphans_remove(*, dry_run: bool = False, now: datetime | None = None) -> list[str]:
    """Delete files under the samples folder that no Sample refers to; return their names. A file written less than
    CLEANUP_GRACE_SECONDS ago is left alone: a sample's files are stored just before its row is committed."""
    listed = _walk(default_storage, "samples")  # before the rows: a sample committed in between is seen
    referenced = set()
    for drawing, digit in Sample.objects.values_list("drawing", "digit").iterator():
        referenced.update((drawing, digit))
    settled = (now or timezone.now()) - timedelta(seconds=settings.CLEANUP_GRACE_SECONDS)
    orphans = [name for name in listed if name not in referenced and _written_by(name, settled)]
    if not dry_run:
        for name in orphans:
            default_storage.delete(name)
    return orphans


def _written_by(name: str, moment: datetime) -> bool:
    try:
        return default_storage.get_modified_time(name) <= moment
    except Exception:  # gone meanwhile, or the store cannot say: not ours to delete this time
        return False


def _walk(storage, folder: str) -> list[str]:
    try:  # not exists(): object storage has no folders, only names that share a prefix
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return []
    names = [f"{folder}/{name}" for name in files]
    for sub in folders:
        names.extend(_walk(storage, f"{folder}/{sub}"))
    return names
