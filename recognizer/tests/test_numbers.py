"""Whole numbers: POST /api/read and saving a number's digits as samples (POST /api/samples/number).

Numbers are drawn from real MNIST test digits, side by side as on the page's wide pad (training/ml/numbers.py, the
bench's generator), or stroke by stroke with Pillow where a test needs a particular shape: a 5 whose flag was
lifted off, a 4 in two strokes, a hash between digits.
"""

import base64
import io
import json

import numpy as np
import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st
from PIL import Image, ImageDraw

from recognizer.ml.numbers import MAX_DIGITS_PER_NUMBER
from recognizer.models import Sample
from recognizer.tests.drawings import as_upload, encode
from recognizer.tests.test_api import assert_error
from training.ml.canvas import iter_robustness_set

URL = "/api/read"
# Strokes in unit coordinates of a digit's box (x right, y down); a digit is a list of strokes.
ONE = [[(0.55, 0.0), (0.45, 1.0)]]
SEVEN = [[(0.0, 0.0), (1.0, 0.0), (0.35, 1.0)]]
FIVE_FLAG_LIFTED = [[(0.25, 0.0), (0.95, 0.0)],
                    [(0.25, 0.08), (0.15, 0.45), (0.7, 0.45), (0.9, 0.7), (0.7, 1.0), (0.05, 0.95)]]
FOUR_TWO_STROKES = [[(0.6, 0.0), (0.05, 0.65), (1.0, 0.65)], [(0.75, 0.3), (0.75, 1.0)]]
ZERO = [[(0.5, 0.0), (0.1, 0.25), (0.05, 0.6), (0.3, 1.0), (0.7, 1.0), (0.95, 0.6), (0.9, 0.25), (0.5, 0.0)]]
HASH = [[(0.3, 0.0), (0.2, 1.0)], [(0.8, 0.0), (0.7, 1.0)], [(0.0, 0.3), (1.0, 0.3)], [(0.0, 0.7), (1.0, 0.7)]]


def written(*digits: list, height: int = 120, width: float = 0.6, gap: float = 0.3, pen: int = 12,
            background=(0, 0, 0, 0)) -> bytes:
    """Digits drawn side by side on a transparent canvas, as the page's pad posts them."""
    step, margin = int(height * (width + gap)), height // 2
    image = Image.new("RGBA", (2 * margin + step * len(digits), height + 2 * margin), background)
    draw = ImageDraw.Draw(image)
    for place, strokes in enumerate(digits):
        left = margin + place * step
        for stroke in strokes:
            points = [(left + x * width * height, margin + y * height) for x, y in stroke]
            draw.line(points, fill=(20, 20, 20, 255), width=pen, joint="curve")
            for x, y in (points[0], points[-1]):
                draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=(20, 20, 20, 255))
    return encode(image)


@pytest.fixture
def client(active_model_version):
    return Client(enforce_csrf_checks=True)  # reading, like predicting, needs no CSRF token


def read(client: Client, data: bytes) -> dict:
    response = client.post(URL, {"file": as_upload(data)})
    assert response.status_code == 200, response.content
    return response.json()


def number_samples():
    from training.ml.numbers import iter_numbers
    return list(iter_numbers(2, seed=7, encodings=["canvas-rgba-png", "black-on-white-png", "jpeg-q75"]))


def test_a_number_written_in_mnist_digits_is_read_left_to_right_with_each_box_around_its_digit(client):
    for sample in number_samples():
        body = read(client, sample.data)
        assert body["number"] == sample.label, (sample.encoding, body["reason"])
        width, height = Image.open(io.BytesIO(sample.data)).size
        lefts = [digit["box"][0] for digit in body["digits"]]
        assert lefts == sorted(lefts)
        for digit, truth in zip(body["digits"], sample.drawing.boxes, strict=True):
            x, y, w, h = digit["box"]
            assert 0 <= x and 0 <= y and x + w <= width and y + h <= height
            assert overlap(digit["box"], truth) > 0.7, (digit["box"], truth)
            assert digit["verdict"] in {"digit", "unsure"} and len(digit["probabilities"]) == 10
            assert digit["preprocessed"].startswith("data:image/png;base64,")
        assert body["model_version"] and body["personal"] is False and body["touching"] is False


def overlap(box, truth) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    x0, y0 = max(box[0], truth[0]), max(box[1], truth[1])
    x1, y1 = min(box[0] + box[2], truth[0] + truth[2]), min(box[1] + box[3], truth[1] + truth[3])
    shared = max(0, x1 - x0) * max(0, y1 - y0)
    return shared / (box[2] * box[3] + truth[2] * truth[3] - shared)


def test_one_digit_gives_a_one_digit_number_with_the_answer_predict_gives(client):
    for sample in iter_robustness_set(2, seed=11):
        predicted = client.post("/api/predict", {"file": as_upload(sample.data)}).json()
        body = read(client, sample.data)
        assert len(body["digits"]) == 1 and body["number"] == str(predicted["digit"]), sample.encoding
        (digit,) = body["digits"]
        for key in ("digit", "confidence", "verdict", "probabilities", "preprocessed", "not_a_digit_score"):
            assert digit[key] == predicted[key], key


def test_the_pieces_of_one_digit_are_read_as_that_digit(client):
    body = read(client, written(ONE, FIVE_FLAG_LIFTED, FOUR_TWO_STROKES, SEVEN))
    assert body["number"] == "1547", [(d["digit"], d["box"]) for d in body["digits"]]


def test_a_number_with_no_digit_in_it_has_no_number_and_says_which_place(client):
    body = read(client, written(ONE, HASH, SEVEN))
    assert body["number"] is None
    verdicts = [digit["verdict"] for digit in body["digits"]]
    assert verdicts[1] == "not_a_digit", verdicts
    assert "2nd digit from the left" in body["reason"] and "not look like a digit" in body["reason"]


def test_digits_that_touch_are_split_or_said_to_touch(client):
    image = Image.open(io.BytesIO(written(ZERO, SEVEN, gap=0.0))).convert("RGBA")  # the 0's right side meets the 7's bar
    body = read(client, encode(image))
    assert body["number"] == "07" or (body["touching"] and "touch" in body["reason"]), body


@pytest.mark.parametrize(("count", "status"), [(MAX_DIGITS_PER_NUMBER, 200), (MAX_DIGITS_PER_NUMBER + 1, 400)])
def test_more_digits_than_a_number_may_have_are_refused_in_words(client, count, status):
    response = client.post(URL, {"file": as_upload(written(*[ONE] * count, height=60, pen=6))})
    if status == 200:
        assert response.status_code == 200 and response.json()["number"] == "1" * count
    else:
        assert_error(response, 400, "too many digits", str(MAX_DIGITS_PER_NUMBER))


def test_a_blank_pad_and_a_broken_request_are_refused_like_a_prediction(client):
    assert_error(client.post(URL, {"file": as_upload(encode(Image.new("RGBA", (600, 200))))}), 400, "empty")
    assert_error(client.post(URL, {"file": as_upload(b"not an image")}), 400)
    assert_error(client.post(URL, data=b"", content_type="application/json"), 400)
    assert_error(client.get(URL), 405)


def test_a_data_url_in_json_is_read_as_a_file_is(client):
    data = written(SEVEN, ONE)
    answer = client.post(URL, json.dumps({"image": f"data:image/png;base64,{base64.b64encode(data).decode()}"}),
                         content_type="application/json")
    assert answer.status_code == 200 and answer.json()["number"] == read(client, data)["number"] == "71"


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(8, 700), st.integers(8, 300), st.integers(0, 2**32 - 1), st.sampled_from(["RGBA", "RGB", "L"]))
def test_any_image_is_answered_200_or_4xx_and_every_box_lies_inside_it(client, width, height, seed, mode):
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    pixels[rng.random((height, width)) < rng.uniform(0.3, 1.0)] = (255, 255, 255, 0)  # sparse marks on paper
    image = Image.fromarray(pixels, "RGBA").convert(mode)
    response = client.post(URL, {"file": as_upload(encode(image))})
    assert response.status_code in {200, 400}, response.content
    if response.status_code == 200:
        for digit in response.json()["digits"]:
            x, y, w, h = digit["box"]
            assert 0 <= x and 0 <= y and w >= 1 and h >= 1 and x + w <= width and y + h <= height


# ---- Saving a number's digits as samples ----

def save_number(session: Client, data: bytes, labels: str):
    session.get("/")  # a session and its CSRF cookie, as the page has
    return session.post("/api/samples/number", {"file": as_upload(data), "labels": labels},
                        HTTP_X_CSRFTOKEN=session.cookies["csrftoken"].value)


def test_each_digit_of_a_number_is_kept_as_its_own_sample_with_the_label_the_person_gave(client):
    session = Client(enforce_csrf_checks=True)
    response = save_number(session, written(SEVEN, ONE, ZERO), "740")  # the person corrects the 1 to a 4
    assert response.status_code == 201, response.content
    saved = response.json()["samples"]
    assert [sample["label"] for sample in saved] == [7, 4, 0]
    assert [sample["predicted"] for sample in saved] == [7, 1, 0]
    rows = Sample.objects.order_by("id")
    assert [row.label for row in rows] == [7, 4, 0] and len({row.session_key for row in rows}) == 1
    for row in rows:  # each keeps its own part of the drawing, and its 28x28
        with row.drawing.open("rb") as handle:
            part = Image.open(handle)
            assert part.width < part.height * 1.5  # one digit, not the whole number
        with row.digit.open("rb") as handle:
            assert Image.open(handle).size == (28, 28)
    listed = session.get("/api/samples").json()
    assert listed["total"] == response.json()["total"] == 3 and listed["counts"]["4"] == 1


@pytest.mark.parametrize(("labels", "fragment"), [("74", "holds 3 digits, but 2 labels"), ("7a0", "0-9"),
                                                   ("", "labels"), ("7" * 13, "1 to 12 digits")])
def test_labels_that_do_not_fit_the_number_are_refused_and_nothing_is_kept(labels, fragment, active_model_version):
    response = save_number(Client(enforce_csrf_checks=True), written(SEVEN, ONE, ZERO), labels)
    assert_error(response, 400, fragment)
    assert not Sample.objects.exists()


def test_a_number_that_would_pass_the_sample_limit_is_refused_whole(settings, active_model_version):
    settings.MAX_SAMPLES_PER_SESSION = 4
    session = Client(enforce_csrf_checks=True)
    assert save_number(session, written(SEVEN, ONE), "71").status_code == 201
    assert_error(save_number(session, written(SEVEN, ONE, ZERO), "710"), 429, "Delete some")
    assert Sample.objects.count() == 2


def test_saving_a_number_needs_the_csrf_token(active_model_version):
    session = Client(enforce_csrf_checks=True)
    session.get("/")
    response = session.post("/api/samples/number", {"file": as_upload(written(SEVEN, ONE)), "labels": "71"})
    assert response.status_code == 403 and not Sample.objects.exists()


def test_a_big_jpeg_decoded_at_reduced_scale_is_boxed_and_kept_in_the_posted_images_pixels(client):
    # 3330x1800: libjpeg decodes it at half scale; boxes and kept parts must not shrink with it
    canvas = Image.open(io.BytesIO(written(SEVEN, ONE, ZERO, height=900, pen=80, background=(255, 255, 255, 255))))
    photo = encode(canvas.convert("RGB"), "JPEG", quality=90)
    body = read(client, photo)
    assert body["number"] == "710", body["reason"]
    for place, digit in enumerate(body["digits"]):  # digit k spans x from 450 + 810 k, 540 px wide
        x, y, w, h = digit["box"]
        assert abs(x + w / 2 - (720 + 810 * place)) < 100 and abs(y + h / 2 - 900) < 100
        assert 800 < h < 1100 and x + w <= 3330 and y + h <= 1800
    session = Client(enforce_csrf_checks=True)
    assert save_number(session, photo, "710").status_code == 201
    for row in Sample.objects.order_by("id"):  # each keeps its own digit, at most 512 px
        with row.drawing.open("rb") as handle:
            part = Image.open(handle)
            assert max(part.size) <= 512 and part.width < part.height
