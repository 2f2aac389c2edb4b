"""The kept copy of a sample's drawing: at most 512 px and 150 KB whatever was posted; the 28x28 stays exact."""

import base64
import io

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.test import Client
from PIL import Image

from recognizer.ml.kept_drawing import KEPT_BYTES, KEPT_SIDE, kept_drawing
from recognizer.models import Sample
from recognizer.tests.drawings import as_upload, canvas_png, draw, encode


def noisy_drawing(side: int, mode: str = "RGB", amplitude: int = 12) -> Image.Image:
    """A 7 on white paper, every sample of every pixel off by up to ``amplitude`` levels: a scan or a photo."""
    clean = np.asarray(draw(size=(side, side), mode="RGB", ink=(0, 0, 0), background=(255, 255, 255)), np.int16)
    noise = np.random.default_rng(0).integers(-amplitude, amplitude + 1, clean.shape)
    return Image.fromarray(np.clip(clean + noise, 0, 255).astype(np.uint8)).convert(mode)


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.django_db
def test_a_noisy_1024_px_upload_keeps_a_small_drawing_and_the_exact_28x28(active_model_version):
    upload = encode(noisy_drawing(1024))
    assert len(upload) > 1_000_000  # kept as it came, the drawing would cost as much
    session = Client(enforce_csrf_checks=True)
    session.get("/")  # a session and its CSRF cookie, as the page has
    response = session.post("/api/samples", {"file": as_upload(upload), "label": "7"},
                            HTTP_X_CSRFTOKEN=session.cookies["csrftoken"].value)
    assert response.status_code == 201, response.content
    sample = Sample.objects.get(pk=response.json()["id"])
    with default_storage.open(sample.drawing.name) as handle:
        kept = handle.read()
    assert len(kept) <= 150_000 and max(opened(kept).size) <= 512
    predicted = Client().post("/api/predict", {"file": as_upload(upload)}).json()["preprocessed"]
    with default_storage.open(sample.digit.name) as handle:
        saved_digit = np.asarray(Image.open(handle))
    shown_digit = np.asarray(opened(base64.b64decode(predicted.split(",", 1)[1])))
    assert saved_digit.shape == (28, 28) and np.array_equal(saved_digit, shown_digit)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA"])
def test_noise_of_any_mode_is_kept_within_the_limits(mode):
    kept = kept_drawing(noisy_drawing(1024, mode, amplitude=127))
    assert len(kept) <= KEPT_BYTES and max(opened(kept).size) == KEPT_SIDE


def test_a_canvas_drawing_is_kept_as_it_was_drawn():
    canvas = opened(canvas_png())  # 280x280, transparent: small enough to keep pixel for pixel
    kept = opened(kept_drawing(canvas))
    assert kept.mode == "RGBA" and np.array_equal(np.asarray(kept), np.asarray(canvas))


def test_a_16_bit_scan_is_kept_stretched_to_8_bits():
    levels = np.asarray(draw(ink=(0,), background=(255,), mode="L", size=(700, 600)), dtype=np.float32)
    scan = Image.fromarray((300 + levels / 255 * 3700).astype(np.uint16))  # the bottom of a 16-bit range
    kept = opened(kept_drawing(scan))
    assert kept.mode == "L" and kept.size == (512, 439)
    assert np.asarray(kept).min() < 30 and np.asarray(kept).max() > 225
