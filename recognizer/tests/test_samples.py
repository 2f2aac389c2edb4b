import base64
import io
import json
import re

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import Client
from PIL import Image

from recognizer.models import Sample
from recognizer.tests.drawings import as_upload, canvas_png, draw, encode, sideways_photo

URL = "/api/samples"
SEVEN = canvas_png()
ONE = canvas_png(path=[(0.5, 0.0), (0.5, 1.0)], width=16)


def named(data: bytes) -> io.BytesIO:
    return as_upload(data, "my digit.png")  # user text that must not reach the stored file names


@pytest.fixture
def client(db):
    return Client()  # the test client skips CSRF checks unless told; see test_it_refuses_a_post_without_csrf


def save(client: Client, data: bytes = SEVEN, label="7"):
    return client.post(URL, {"file": named(data), "label": label})


def stored_files(sample: Sample) -> list[bool]:
    return [default_storage.exists(sample.drawing.name), default_storage.exists(sample.digit.name)]


def test_it_keeps_a_labelled_drawing_with_its_files(client, active_model_version):
    response = save(client)
    assert response.status_code == 201
    body = response.json()
    assert set(body) >= {"id", "label", "image_url", "preprocessed_url", "predicted", "confidence", "model_version",
                         "created"}
    sample = Sample.objects.get(pk=body["id"])
    assert (sample.label, sample.predicted, sample.model_version) == (7, 7, active_model_version)
    assert body["confidence"] == pytest.approx(sample.confidence) and sample.confidence > 0.5
    assert sample.session_key == client.session.session_key
    assert stored_files(sample) == [True, True]
    assert body["image_url"] == f"/media/{sample.drawing.name}"
    assert client.get(body["preprocessed_url"]).status_code == 200


def test_file_names_are_unguessable_and_free_of_user_text(client):
    sample = Sample.objects.get(pk=save(client).json()["id"])
    for name in (sample.drawing.name, sample.digit.name):
        assert re.fullmatch(r"samples/\d{4}/\d{2}/[0-9a-f]{32}-(drawing|28x28)\.png", name)


@pytest.mark.django_db
def test_a_json_post_with_the_csrf_token_from_the_page_is_accepted():
    client = Client(enforce_csrf_checks=True)
    client.get("/")
    token = client.cookies["csrftoken"].value
    image = "data:image/png;base64," + base64.b64encode(ONE).decode()
    response = client.post(URL, json.dumps({"image": image, "label": 1}), content_type="application/json",
                           HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201
    assert response.json()["label"] == 1


@pytest.mark.django_db
def test_it_refuses_a_post_without_csrf():
    client = Client(enforce_csrf_checks=True)
    response = client.post(URL, {"file": named(SEVEN), "label": "7"})
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]
    assert Sample.objects.count() == 0


def test_it_lists_this_sessions_samples_newest_first_with_counts(client):
    ids = [save(client, SEVEN, "7").json()["id"], save(client, ONE, "1").json()["id"],
           save(client, SEVEN, "7").json()["id"]]
    body = client.get(URL).json()
    assert [s["id"] for s in body["samples"]] == ids[::-1]
    assert body["counts"] == {**{str(d): 0 for d in range(10)}, "7": 2, "1": 1}
    assert body["total"] == 3


def test_sessions_are_isolated(client, db):
    mine = save(client).json()["id"]
    stranger = Client()
    assert stranger.get(URL).json()["samples"] == []
    response = stranger.delete(f"{URL}/{mine}")
    assert response.status_code == 404 and "error" in response.json()
    assert Sample.objects.filter(pk=mine).exists()
    stranger.delete(URL)  # clearing their own session leaves mine alone
    assert Sample.objects.filter(pk=mine).exists()


def test_deleting_a_sample_deletes_its_files(client, django_capture_on_commit_callbacks):
    sample = Sample.objects.get(pk=save(client).json()["id"])
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(f"{URL}/{sample.pk}").status_code == 204
    assert not Sample.objects.filter(pk=sample.pk).exists()
    assert stored_files(sample) == [False, False]


def test_clearing_all_deletes_every_sample_of_the_session(client, django_capture_on_commit_callbacks):
    samples = [Sample.objects.get(pk=save(client).json()["id"]) for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(URL).status_code == 204
    assert client.get(URL).json()["total"] == 0
    assert all(stored_files(s) == [False, False] for s in samples)


@pytest.mark.parametrize("label", ["", "seven", "10", "-1", "3.5"])
def test_the_label_must_be_a_digit(client, label):
    response = save(client, label=label)
    assert response.status_code == 400
    assert "0 to 9" in response.json()["error"]
    assert Sample.objects.count() == 0


def test_a_missing_label_is_refused(client):
    response = client.post(URL, {"file": named(SEVEN)})
    assert response.status_code == 400 and "label" in response.json()["error"]


@pytest.mark.parametrize("data, fragment", [(b"not an image", "not an image"), (b"", "empty"),
                                            (canvas_png(width=0, path=[(0, 0), (0, 0)]), "empty")])
def test_bad_images_store_nothing(client, data, fragment):
    response = save(client, data)
    assert response.status_code == 400 and fragment in response.json()["error"]
    assert Sample.objects.count() == 0
    assert not default_storage.exists("samples") or default_storage.listdir("samples") == ([], [])


def test_too_large_an_upload_is_refused(client, settings):
    settings.MAX_UPLOAD_BYTES = 1000
    assert save(client).status_code == 413


def test_the_per_session_limit_answers_429(client, settings):
    settings.MAX_SAMPLES_PER_SESSION = 2
    assert [save(client).status_code for _ in range(3)] == [201, 201, 429]
    assert "2 samples" in save(client).json()["error"]
    assert Client().post(URL, {"file": named(SEVEN), "label": "7"}).status_code == 201  # other sessions unaffected


def test_the_orphan_command_removes_unreferenced_files_only(make_sample, capsys, settings):
    kept = make_sample()
    stray = default_storage.save("samples/2020/01/" + "f" * 32 + "-drawing.png", io.BytesIO(SEVEN))
    settings.CLEANUP_GRACE_SECONDS = 0  # the stray was just written (recognizer/tests/test_retention.py: the grace)
    call_command("cleanup_media")
    out = capsys.readouterr().out
    assert f"removed {stray}" in out and "Removed 1 orphaned file(s)." in out
    assert not default_storage.exists(stray)
    assert stored_files(kept) == [True, True]


def stored_drawing(client: Client, data: bytes) -> np.ndarray:
    response = save(client, data)
    assert response.status_code == 201, response.content
    with default_storage.open(Sample.objects.get(pk=response.json()["id"]).drawing.name) as stored:
        return np.asarray(Image.open(stored).convert("L"))


def test_the_stored_drawing_of_a_sideways_photo_is_upright(client, active_model_version):
    drawing = stored_drawing(client, sideways_photo(draw(background=(255, 255, 255, 255))))
    rows, cols = np.nonzero(drawing < 128)
    assert drawing.shape == (280, 280)
    assert np.ptp(rows) > 1.2 * np.ptp(cols)  # the 7 stands taller than it is wide, as drawn


def test_the_stored_drawing_of_a_16_bit_scan_keeps_its_ink(client, active_model_version):
    # A 16-bit scan that uses only the bottom of its range: dark ink 300 on paper 4000 of 65535.
    levels = np.asarray(draw(ink=(0,), background=(255,), mode="L"), dtype=np.float32)
    scan = Image.fromarray((300 + levels / 255 * 3700).astype(np.uint16))  # mode I;16
    drawing = stored_drawing(client, encode(scan))
    assert drawing.min() < 30 and drawing.max() > 225  # ink and paper, not all white
