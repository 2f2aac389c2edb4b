import base64
import io
import json
import logging

import numpy as np
import pytest
from django.test import Client
from django.test.client import encode_multipart
from PIL import Image

from recognizer.models import ModelVersion
from recognizer.tests.drawings import as_upload, canvas_png, draw, encode, sideways_photo
from recognizer.tests.test_preprocessing import png_claiming

URL = "/api/predict"
SEVEN = canvas_png()
ONE = canvas_png(path=[(0.5, 0.0), (0.5, 1.0)], width=16)


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


@pytest.fixture
def client(active_model_version):
    return Client(enforce_csrf_checks=True)  # prediction must work without a CSRF token


def upload(data: bytes, name: str = "digit.png") -> dict:
    return {"file": as_upload(data, name)}


def assert_error(response, status: int, *fragments: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    message = response.json()["error"]
    assert isinstance(message, str) and message
    for fragment in fragments:
        assert fragment in message


def test_a_multipart_file_is_read_and_answered(client, active_model_version):
    response = client.post(URL, upload(SEVEN))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"digit", "confidence", "probabilities", "verdict", "not_a_digit_score", "runner_up",
                         "model_version", "personal", "preprocessed"}
    assert body["verdict"] == "digit" and body["not_a_digit_score"] < 0.5
    assert body["personal"] is False  # no session: the shared model
    assert body["digit"] == 7
    assert body["model_version"] == active_model_version.pk
    assert len(body["probabilities"]) == 10
    assert sum(body["probabilities"]) == pytest.approx(1.0, abs=1e-4)
    assert body["confidence"] == pytest.approx(max(body["probabilities"]), abs=1e-6)
    assert body["confidence"] > 0.5


def test_the_preprocessed_image_is_the_28x28_digit_the_network_saw(client):
    body = client.post(URL, upload(ONE)).json()
    assert body["digit"] == 1
    header, payload = body["preprocessed"].split(",", 1)
    assert header == "data:image/png;base64"
    seen = np.asarray(Image.open(io.BytesIO(base64.b64decode(payload))))
    assert seen.shape == (28, 28)
    assert seen.max() == 255 and (seen > 0).mean() < 0.3  # white ink on black


def test_a_json_data_url_gives_the_same_answer_as_the_file(client):
    by_file = client.post(URL, upload(SEVEN)).json()
    by_json = client.post(URL, json.dumps({"image": data_url(SEVEN)}), content_type="application/json").json()
    assert by_json == by_file


def test_a_form_field_holding_a_data_url_is_read(client):
    response = client.post(URL, {"image": data_url(SEVEN)})
    assert response.status_code == 200 and response.json()["digit"] == 7


def test_a_raw_image_body_is_read(client):
    response = client.post(URL, SEVEN, content_type="image/png")
    assert response.status_code == 200 and response.json()["digit"] == 7


@pytest.mark.parametrize("fmt, mode, params", [("JPEG", "RGB", {"quality": 80}), ("GIF", "P", {}),
                                               ("WEBP", "RGB", {}), ("BMP", "RGB", {})])
def test_every_accepted_format_is_read(client, fmt, mode, params):
    image = draw(ink=(0, 0, 0), background=(255, 255, 255), mode="RGB").convert(mode)
    response = client.post(URL, upload(encode(image, fmt, **params), f"digit.{fmt.lower()}"))
    assert response.status_code == 200 and response.json()["digit"] == 7


def test_the_file_name_does_not_decide_the_format(client):
    response = client.post(URL, upload(SEVEN, "digit.jpg"))
    assert response.status_code == 200 and response.json()["digit"] == 7


def test_get_is_refused_with_the_allowed_method(client):
    response = client.get(URL)
    assert_error(response, 405, "POST")
    assert response["Allow"] == "POST"


def test_an_empty_body_is_refused(client):
    assert_error(client.generic("POST", URL, b""), 400, "empty")
    assert_error(client.post(URL, b"", content_type="image/png"), 400, "empty")
    assert_error(client.post(URL, "", content_type="application/json"), 400, "empty")


def test_an_empty_file_is_refused(client):
    assert_error(client.post(URL, upload(b"")), 400, "empty")


def test_a_request_without_an_image_field_is_refused(client):
    assert_error(client.post(URL, {"something": "else"}), 400, "No image was sent")


def test_a_file_that_is_not_an_image_is_refused(client):
    assert_error(client.post(URL, upload(b"%PDF-1.4 not a picture", "digit.png")), 400, "not an image")


def test_a_truncated_file_is_refused(client):
    data = encode(draw(mode="RGB", background=(255, 255, 255)))
    assert_error(client.post(URL, upload(data[: len(data) // 2])), 400, "damaged or cut short")


def test_an_unknown_format_is_refused(client):
    data = encode(draw(mode="RGB", background=(255, 255, 255)), "TIFF")
    assert_error(client.post(URL, upload(data, "digit.tiff")), 400, "TIFF")


@pytest.mark.parametrize("bad", ["not a data url", "data:image/png;base64,@@@###", "data:image/png;base64,",
                                 "data:,", "image/png;base64,iVBORw0KGgo="])
def test_a_malformed_data_url_is_refused(client, bad):
    response = client.post(URL, json.dumps({"image": bad}), content_type="application/json")
    assert_error(response, 400)


def test_a_data_url_of_a_non_image_is_refused(client):
    response = client.post(URL, json.dumps({"image": data_url(b"hello world", "text/plain")}),
                           content_type="application/json")
    assert_error(response, 400, "not an image")


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", '{"picture": "x"}', '{"image": 42}'])
def test_bad_json_is_refused(client, body):
    assert_error(client.post(URL, body, content_type="application/json"), 400)


def test_a_file_and_a_data_url_together_are_refused(client):
    assert_error(client.post(URL, {"file": as_upload(SEVEN, "a.png"), "image": data_url(SEVEN)}), 400, "once")


def test_an_unknown_content_type_is_refused(client):
    assert_error(client.post(URL, "hello", content_type="text/plain"), 415, "not understood")


def test_too_large_a_body_is_refused_with_413(client, settings):
    settings.MAX_UPLOAD_BYTES = 10_000
    big = encode(Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)))
    assert len(big) > 10_000
    assert_error(client.post(URL, upload(big)), 413, "too large")
    assert_error(client.post(URL, big, content_type="image/png"), 413, "too large")
    assert_error(client.post(URL, json.dumps({"image": data_url(big)}), content_type="application/json"), 413)


def test_a_decompression_bomb_is_refused(client):
    assert_error(client.post(URL, upload(png_claiming(50_000, 50_000))), 400, "pixels")


def test_a_one_pixel_image_is_refused(client):
    assert_error(client.post(URL, upload(encode(Image.new("RGB", (1, 1))))), 400, "1×1")


def test_a_blank_canvas_is_not_a_digit(client):
    blank = encode(Image.new("RGBA", (280, 280), (0, 0, 0, 0)))
    assert_error(client.post(URL, upload(blank)), 400, "empty")


def test_refusals_are_logged(client, caplog):
    with caplog.at_level(logging.WARNING, logger="recognizer.http"):
        client.post(URL, upload(b"junk"))
    assert any("Refused POST /api/predict (400)" in record.getMessage() for record in caplog.records)


def test_no_active_model_answers_503(client):
    ModelVersion.objects.update(is_active=False)
    assert_error(client.post(URL, upload(SEVEN)), 503, "No model is active")


def test_the_health_view_is_trivial(client):
    response = client.get("/api/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_json_nested_thousands_deep_is_refused_not_a_crash(client):
    assert_error(client.post(URL, "[" * 5000 + "]" * 5000, content_type="application/json"), 400, "nested")


def test_a_form_with_thousands_of_fields_is_refused_as_json(client):
    fields = {f"field{i}": "x" for i in range(1500)}
    assert_error(client.post(URL, {**fields, **upload(SEVEN)}), 400, "too many fields")


@pytest.mark.parametrize("spell", [
    lambda url: url.replace("data:", "DATA:"),
    lambda url: url.replace(";base64", ";BASE64"),
    lambda url: url.rstrip("="),
])
def test_data_urls_are_read_however_the_encoder_spells_them(client, spell):
    response = client.post(URL, json.dumps({"image": spell(data_url(SEVEN))}), content_type="application/json")
    assert response.status_code == 200 and response.json()["digit"] == 7


@pytest.mark.parametrize("path", ["/api/nonexistent", "/api/samples/abc", "/api//predict", "/api/train/x"])
def test_unknown_api_addresses_answer_404_as_json(client, path):
    assert_error(client.get(path), 404, path)


def test_unknown_pages_answer_an_html_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_a_chunked_body_is_refused_with_411_not_read_as_empty(client):
    response = client.post(URL, SEVEN, content_type="image/png", HTTP_TRANSFER_ENCODING="chunked")
    assert_error(response, 411, "Content-Length")
    assert response["Connection"] == "close"


def test_a_content_length_that_is_no_number_is_refused(client):
    assert_error(client.post(URL, SEVEN, content_type="image/png", CONTENT_LENGTH="seven"), 400, "Content-Length")


def test_an_unexpected_failure_answers_json_500_not_a_page(client, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("recognizer.api.prediction_make", broken)
    client.raise_request_exception = False
    assert_error(client.post(URL, upload(SEVEN)), 500, "nothing was changed")


def test_a_host_the_site_does_not_serve_gets_a_json_400_from_the_api(client):
    client.raise_request_exception = False
    assert_error(client.get("/api/health", HTTP_HOST="elsewhere.example"), 400, "could not be read")


def test_a_photo_stored_sideways_is_read_as_its_exif_orientation_shows_it(client):
    upright = draw(background=(255, 255, 255, 255), mode="RGBA")
    answer = client.post(URL, upload(sideways_photo(upright), "photo.jpg")).json()
    expected = client.post(URL, upload(encode(upright))).json()
    assert answer["digit"] == expected["digit"] == 7
    seen, wanted = (np.asarray(Image.open(io.BytesIO(base64.b64decode(a["preprocessed"].split(",")[1]))), float)
                    for a in (answer, expected))
    assert np.abs(seen - wanted).mean() < 10  # the same digit, upright (JPEG noise aside)


def test_the_content_type_is_read_in_any_case(client):
    boundary = "Case-Sensitive-Boundary"
    body = encode_multipart(boundary, upload(SEVEN))
    response = client.post(URL, body, content_type=f"Multipart/Form-Data; boundary={boundary}")
    assert response.status_code == 200 and response.json()["digit"] == 7


@pytest.mark.parametrize("url, allowed", [
    ("/api/samples", "GET, POST, DELETE"), ("/api/train", "GET, POST"),
    ("/api/model", "GET, POST, DELETE"), ("/api/me", "GET, DELETE"),
])
@pytest.mark.parametrize("method", ["put", "patch"])
def test_a_method_an_endpoint_has_no_view_for_is_refused_in_words_and_makes_no_session(client, url, allowed, method):
    from django.contrib.sessions.models import Session

    client.get("/")  # the page's CSRF token, so that the method, not the token, is what is refused
    response = getattr(client, method)(url, data=b"{}", content_type="application/json",
                                       HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert_error(response, 405, *allowed.split(", "))
    assert response["Allow"] == allowed
    assert not Session.objects.exists() and "sessionid" not in response.cookies
