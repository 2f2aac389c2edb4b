"""Suspicion: how strongly the shared model of the day disputes each sample's label, so that staff review the
likely wrong labels first (a wrong label is what poisons a fine-tune).

A sample's suspicion is 1 - p(label) under the active shared version: 0 when the model is sure the label is
right, near 1 when it is sure of another digit. It is computed in the worker, never in a web request, in batches
(``samples_score``): after a new shared version is activated (every score is then stale), and SCORE_DELAY_SECONDS
after a new sample is saved. One scoring task waits at a time: it scores every sample saved before it starts, so a
burst of saves is scored together and a single save is scored too. Each score records the version that computed
it, with that version's reading.
"""

import logging

import numpy as np
import torch
from django.conf import settings
from django.db.models import Case, Count, F, Q, QuerySet, When
from django.db.models.functions import Coalesce

from .exceptions import SampleUnreadable
from .inference import Predictor, shared_predictor
from .ml.preprocessing import normalise_digits
from .ml.reader import PROBABILITY_DECIMALS
from .models import Sample

logger = logging.getLogger(__name__)


def suspicion_of(probabilities: list[float], label: int) -> float:
    """How strongly a reading disputes ``label``: 1 - its probability, 0 (agrees) to 1 (sure it is another digit)."""
    return round(1.0 - probabilities[label], PROBABILITY_DECIMALS)


def samples_to_score(version_id: int) -> QuerySet[Sample]:
    """Samples never scored, or scored by another version than ``version_id``."""
    return Sample.objects.filter(Q(scored_by__isnull=True) | ~Q(scored_by=version_id))


def _stored_digit(sample: Sample) -> np.ndarray | None:
    try:
        return sample.stored_digit()
    except SampleUnreadable:
        return None


def _score_batch(samples: list[Sample], predictor: Predictor) -> None:
    digits = {sample.pk: _stored_digit(sample) for sample in samples}
    readable = [sample for sample in samples if digits[sample.pk] is not None]
    readings = (predictor.read(normalise_digits(torch.from_numpy(np.stack([digits[s.pk] for s in readable]))))
                if readable else [])
    for sample in samples:  # an unreadable file is marked scored (no suspicion) so it is not retried forever
        sample.scored_by_id, sample.suspicion, sample.scored_digit, sample.scored_confidence = (
            predictor.version_id, None, None, None)
    for sample, reading in zip(readable, readings, strict=True):
        sample.suspicion = suspicion_of(reading.probabilities, sample.label)
        sample.scored_digit, sample.scored_confidence = reading.digit, reading.confidence
    if len(readable) < len(samples):
        logger.warning("Could not read the 28x28 file of %d samples; they are left without a suspicion",
                       len(samples) - len(readable))
    Sample.objects.bulk_update(samples, ["scored_by", "suspicion", "scored_digit", "scored_confidence"])


def samples_score(*, batch_size: int | None = None) -> int:
    """Score every sample not yet scored by the active shared version, ``batch_size`` at a time (one forward
    pass and one UPDATE each); return how many were scored. Raises NoActiveModel when nothing is active."""
    batch_size = batch_size or settings.SCORE_BATCH
    predictor = shared_predictor()
    scored = 0
    while batch := list(samples_to_score(predictor.version_id).order_by("pk").only("pk", "label", "digit")[:batch_size]):
        _score_batch(batch, predictor)
        scored += len(batch)
    if scored:
        logger.info("Scored %d samples with %s", scored, f"v{predictor.version_id}")
    return scored


def review_queue() -> QuerySet[Sample]:
    """Samples not reviewed yet, the most suspicious first, newest first among equals.

    A sample not scored yet (the worker scores it within seconds of its save) is placed by the reading saved with
    it, so that a fresh 9 labelled 4 does not wait at the end looking harmless: when that reading agrees with the
    label, the saving model's suspicion is exactly 1 - its confidence; when it read another digit, p(label) is at
    most 1 - confidence, so the suspicion is at least the confidence, and that bound stands in for it. The saving
    model may be a personal one rather than the shared one that scores, which is good enough for the few seconds
    until the score arrives. Samples saved with no reading (no model was active) come last."""
    saved_estimate = Case(When(predicted=F("label"), then=1.0 - F("confidence")),
                          When(predicted__isnull=False, then=F("confidence")))
    return (Sample.objects.filter(status=Sample.Status.NEW)
            .alias(queue_suspicion=Coalesce("suspicion", saved_estimate))
            .order_by(F("queue_suspicion").desc(nulls_last=True), "-created", "-pk"))


def review_progress() -> tuple[int, int]:
    """How many samples have been reviewed (approved or rejected), and how many there are."""
    counts = Sample.objects.aggregate(total=Count("pk"), reviewed=Count("pk", filter=~Q(status=Sample.Status.NEW)))
    return counts["reviewed"], counts["total"]


def confusion_on_approved_samples(version_id: int) -> list[list[int]]:
    """A 10x10 count of approved samples by label (rows) and by what ``version_id`` reads (columns), from the
    scores it computed; all zeros when it scored none (only the active shared version scores)."""
    matrix = [[0] * 10 for _ in range(10)]
    pairs = (Sample.objects.filter(status=Sample.Status.APPROVED, scored_by=version_id, scored_digit__isnull=False)
             .values_list("label", "scored_digit").annotate(count=Count("pk")).order_by())
    for label, reading, count in pairs:
        matrix[label][reading] = count
    return matrix


def confusion_table(matrix: list[list[int]], link=None) -> dict:
    """What a template needs to draw a confusion matrix: for each true digit, its cells (count, share of the row
    for the shading, and ``link(label, reading)`` when given) and its accuracy."""
    rows = []
    for label, counts in enumerate(matrix):
        total = sum(counts)
        cells = [{"count": count, "share": round(count / total, 3) if total else 0.0, "right": reading == label,
                  "link": link(label, reading) if link and count else None} for reading, count in enumerate(counts)]
        rows.append({"label": label, "cells": cells, "total": total,
                     "accuracy": f"{counts[label] / total:.1%}" if total else "—"})
    return {"rows": rows, "total": sum(row["total"] for row in rows)}
