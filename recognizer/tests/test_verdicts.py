"""The verdict, end to end: the API, the saved sample, the admin and the export all say what ml.reader decided.

Drawings come from training.ml.nondigits and bench.pen_digits with a seed that no training used, and are read by
the real shipped network through the real API.
"""

import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings as hypothesis_settings

from bench.pen_digits import iter_pen_digits
from recognizer.ml.checkpoints import save_checkpoint
from recognizer.ml.network import DigitNet
from recognizer.ml.reader import NOT_A_DIGIT, VERDICTS
from recognizer.models import Sample
from recognizer.tests.drawings import as_upload
from recognizer.tests.test_hostile_input import small_images
from recognizer.versions import model_version_activate
from training.ml.strokes import png
from training.ml.nondigits import iter_nondigits
from recognizer.visitors import Visitor

URL = "/api/predict"
SEED = 4242  # no training draws from it
# Plainly no digit, of every kind; "word names" and "clock" are families the detector never saw.
NON_DIGITS = ["#", "smiley", "house", "scribble tangle", "word short", "word names", "clock", "H"]


def nondigit_pngs(count: int) -> list[tuple[str, bytes]]:
    return [(sample.family, png(sample.image)) for sample in iter_nondigits(count, SEED, NON_DIGITS)]


def predict(client: Client, data: bytes) -> dict:
    response = client.post(URL, {"file": as_upload(data)})
    assert response.status_code == 200, response.content
    return response.json()


def test_drawings_that_are_no_digit_are_called_so_with_the_best_guess_kept(client):
    answers = [(family, predict(client, data)) for family, data in nondigit_pngs(3)]
    called = [family for family, body in answers if body["verdict"] == NOT_A_DIGIT]
    assert len(called) >= 0.8 * len(answers), [(f, b["digit"], b["not_a_digit_score"]) for f, b in answers]
    for _, body in answers:
        assert 0 <= body["digit"] <= 9 and len(body["probabilities"]) == 10  # the best guess is still there
        assert (body["not_a_digit_score"] >= 0.5) == (body["verdict"] == NOT_A_DIGIT)


def test_pen_drawn_digits_of_every_style_are_not_refused(client):
    answers = [(sample.style, predict(client, sample.data)) for sample in iter_pen_digits(1, SEED)]
    refused = [style for style, body in answers if body["verdict"] == NOT_A_DIGIT]
    assert len(refused) <= 1, refused
    read_right = [style for (style, body), sample in zip(answers, iter_pen_digits(1, SEED))
                  if body["digit"] == sample.label and body["verdict"] != NOT_A_DIGIT]
    assert len(read_right) >= 0.9 * len(answers)


def test_a_saved_sample_keeps_the_verdict_and_the_person_may_label_a_non_digit(client):
    session = Client()  # the test client skips CSRF checks (test_samples covers them)
    family, data = nondigit_pngs(1)[0]
    response = session.post("/api/samples", {"file": as_upload(data), "label": "4"})
    assert response.status_code == 201, response.content
    sample = Sample.objects.get(pk=response.json()["id"])
    listed = session.get("/api/samples").json()["samples"][0]
    assert (listed["verdict"], listed["label"]) == (sample.verdict, 4)
    assert sample.verdict in VERDICTS and sample.not_a_digit_score is not None
    assert listed["not_a_digit_score"] == pytest.approx(sample.not_a_digit_score)


def test_the_admin_filters_samples_by_verdict(admin_client, make_sample, active_model_version):
    digit = make_sample(label=7)
    family, data = nondigit_pngs(1)[0]
    from recognizer.services import sample_create

    other = sample_create(visitor=Visitor("n" * 32), label=1, image_bytes=data)
    Sample.objects.filter(pk=other.pk).update(verdict=NOT_A_DIGIT)  # whatever the drawing was read as
    page = admin_client.get("/admin/recognizer/sample/", {"verdict__exact": NOT_A_DIGIT}).content.decode()
    assert f'value="{other.pk}"' in page and f'value="{digit.pk}"' not in page
    assert "Not a digit" in page


def test_a_model_saved_without_a_detector_never_says_not_a_digit(client, store_version, tmp_path, base_network):
    old = DigitNet(detector=False)
    old.load_state_dict({k: v for k, v in base_network.state_dict().items() if not k.startswith("detector.")})
    save_checkpoint(old, tmp_path / "old.pt")
    model_version_activate(version=store_version("old.pt", tmp_path / "old.pt"))
    for _, data in nondigit_pngs(1):
        body = predict(client, data)
        assert body["verdict"] != NOT_A_DIGIT and body["not_a_digit_score"] is None


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(small_images())
def test_any_image_gets_one_of_the_three_verdicts_or_a_refusal(client, data):
    response = client.post(URL, {"file": as_upload(data)})
    assert response.status_code in {200, 400, 413, 415}, response.content
    body = json.loads(response.content)
    if response.status_code == 200:
        assert body["verdict"] in VERDICTS
        assert body["runner_up"] is None or body["runner_up"] != body["digit"]
    else:
        assert body["error"]


@pytest.fixture
def client(active_model_version):
    return Client(enforce_csrf_checks=True)


