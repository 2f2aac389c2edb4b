"""JSON endpoints. Each parses, calls one service and answers; every failure is {"error": ...} with a 4xx/503."""

import base64

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .forms import drawing_form_from_request, number_samples_form_from_request, sample_form_from_request
from .http import allow, answered, by_method, error, rate_limited, visitor_for, visitor_of
from .ml.preprocessing import encode_png
from .ml.reader import Reading
from .models import Sample
from .services import (
    NumberReading, Prediction, number_read, number_samples_create, prediction_make, sample_counts, sample_create,
    sample_delete, samples_clear, samples_of,
)


def _png_data_url(digit_image) -> str:
    return "data:image/png;base64," + base64.b64encode(encode_png(digit_image)).decode()


def reading_json(reading: Reading) -> dict:
    """What any reading of one digit says, the same in every answer that carries one."""
    return {
        "digit": reading.digit,
        "confidence": round(reading.confidence, 6),
        "probabilities": reading.probabilities,
        "verdict": reading.verdict,
        "not_a_digit_score": reading.not_a_digit_score,
        "runner_up": reading.runner_up,
    }


def prediction_json(prediction: Prediction) -> dict:
    return {
        **reading_json(prediction.reading),
        "model_version": prediction.model_version,
        "personal": prediction.personal,
        **({"note": prediction.note} if prediction.note else {}),
        "preprocessed": _png_data_url(prediction.preprocessed),
    }


def number_json(reading: NumberReading) -> dict:
    return {
        "number": reading.number,
        "digits": [{**reading_json(d.reading), "box": list(d.box), "touching": d.touching,
                    "preprocessed": _png_data_url(d.digit_image)} for d in reading.digits],
        "touching": reading.touching,
        "reason": reading.reason,
        "model_version": reading.model_version,
        "personal": reading.personal,
        **({"note": reading.note} if reading.note else {}),
    }


@csrf_exempt  # predicting changes nothing, so scripts may call it without a CSRF token
@allow("POST")
@rate_limited("predict", "predictions")
def predict(request: HttpRequest) -> JsonResponse:
    return answered(request, drawing_form_from_request, lambda data: JsonResponse(prediction_json(
        prediction_make(image_bytes=data["image_bytes"], visitor=visitor_of(request)))))


@csrf_exempt  # reading changes nothing, like predict
@allow("POST")
@rate_limited("predict", "predictions")
def read(request: HttpRequest) -> JsonResponse:
    """A whole number: its digits left to right, each with its box in the posted image."""
    return answered(request, drawing_form_from_request, lambda data: JsonResponse(number_json(
        number_read(image_bytes=data["image_bytes"], visitor=visitor_of(request)))))


@csrf_exempt  # it changes nothing: a POST gets 405 from allow(), not a confusing CSRF refusal
@allow("GET", "HEAD")
@rate_limited("reads", "requests")
def health(request: HttpRequest) -> JsonResponse:
    """A trivial view: load balancers poll it, and the benchmarks use it as the floor."""
    return JsonResponse({"status": "ok"})


def sample_json(sample: Sample) -> dict:
    return {
        "id": sample.pk,
        "label": sample.label,
        "image_url": sample.drawing.url,
        "preprocessed_url": sample.digit.url,
        "predicted": sample.predicted,
        "confidence": sample.confidence,
        "verdict": sample.verdict or None,
        "not_a_digit_score": sample.not_a_digit_score,
        "model_version": sample.model_version_id,
        "personal": bool(sample.model_version and sample.model_version.is_personal),
        "status": sample.status,
        "created": sample.created.isoformat(),
    }


@rate_limited("samples", "saved drawings")
def samples_list(request: HttpRequest) -> JsonResponse:
    """This session's samples, newest first, with counts per label."""
    visitor = visitor_of(request)
    kept = samples_of(visitor) if visitor else Sample.objects.none()
    return JsonResponse({"samples": [sample_json(s) for s in kept], "counts": sample_counts(kept),
                         "total": kept.count(), "limit": settings.MAX_SAMPLES_PER_SESSION})


@rate_limited("samples", "saved drawings")
def sample_keep(request: HttpRequest) -> JsonResponse:
    """Keep one labelled drawing in this session (made for it when it has none)."""
    def keep(data: dict) -> JsonResponse:
        sample = sample_create(visitor=visitor_for(request), label=data["label"],
                               image_bytes=data["image_bytes"])
        return JsonResponse(sample_json(sample), status=201)

    return answered(request, sample_form_from_request, keep)


@rate_limited("samples", "saved drawings")
def samples_delete(request: HttpRequest) -> HttpResponse:
    """Delete all of this session's samples."""
    if (visitor := visitor_of(request)) is not None:
        samples_clear(visitor=visitor)
    return HttpResponse(status=204)


samples = by_method(GET=samples_list, POST=sample_keep, DELETE=samples_delete)


@allow("POST")
@rate_limited("samples", "saved drawings")
def number_samples(request: HttpRequest) -> JsonResponse:
    """Keep each digit of a drawn number as its own labelled sample (labels: one digit per digit, left to right)."""
    def keep(data: dict) -> JsonResponse:
        visitor = visitor_for(request)
        kept = number_samples_create(visitor=visitor, labels=data["labels"], image_bytes=data["image_bytes"])
        return JsonResponse({"samples": [sample_json(s) for s in kept],
                             "total": samples_of(visitor).count()}, status=201)

    return answered(request, number_samples_form_from_request, keep)


@allow("DELETE")
@rate_limited("samples", "saved drawings")
def sample_detail(request: HttpRequest, sample_id: int) -> JsonResponse | HttpResponse:
    visitor = visitor_of(request)
    try:
        if visitor is None:
            raise Sample.DoesNotExist
        sample_delete(visitor=visitor, sample_id=sample_id)
    except Sample.DoesNotExist:
        return error("There is no such sample in this session.", 404, request=request)
    return HttpResponse(status=204)
