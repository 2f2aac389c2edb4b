"""Personal models: which network reads whose drawings, switching, deleting, the cache, and broken files."""

import logging

import pytest
from django.conf import settings
from django.test import Client

from recognizer import inference
from recognizer.models import ModelVersion, PersonalModel, Sample
from recognizer.tests.drawings import as_upload, canvas_png
from recognizer.versions import personal_model_promote
from recognizer.visitors import Visitor

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(active_model_version):
    """A browser with a session of its own (it saved one drawing) and its session key."""
    client = Client()
    assert client.post("/api/samples", {"file": as_upload(canvas_png()), "label": "7"}).status_code == 201
    return client, Sample.objects.get().session_key


@pytest.fixture
def personal_version(person, tiny_checkpoint, store_version, active_model_version):
    client, key = person
    version = store_version("personal.pt", tiny_checkpoint, owner=key, parent=active_model_version, trained_on=46,
                            gate_passed=True)
    personal_model_promote(visitor=Visitor(key), version=version)
    return version


def predict(client: Client) -> dict:
    response = client.post("/api/predict", {"file": as_upload(canvas_png())})
    assert response.status_code == 200, response.content
    return response.json()


def test_the_personal_model_reads_for_its_session_and_says_so(person, personal_version, active_model_version):
    client, _ = person
    assert (predict(client)["model_version"], predict(client)["personal"]) == (personal_version.pk, True)
    assert (predict(Client())["model_version"], predict(Client())["personal"]) == (active_model_version.pk, False)
    saved = client.post("/api/samples", {"file": as_upload(canvas_png()), "label": "7"}).json()
    assert (saved["model_version"], saved["personal"]) == (personal_version.pk, True)


def test_a_session_can_switch_to_the_shared_model_and_back(person, personal_version, active_model_version):
    client, _ = person
    state = client.post("/api/model", {"use": "shared"}, content_type="application/json").json()
    assert state["serving"] == {"version": active_model_version.pk, "personal": False}
    assert state["personal"]["version"] == personal_version.pk and not state["personal"]["enabled"]
    assert predict(client)["model_version"] == active_model_version.pk
    client.post("/api/model", {"use": "personal"}, content_type="application/json")
    assert predict(client)["model_version"] == personal_version.pk


@pytest.mark.parametrize("body, status, words", [
    ({"use": "mine"}, 400, '"personal" or "shared"'),
    ({}, 400, '"use" is "personal" or "shared"'),
    ("not json", 400, "not valid JSON"),
])
def test_a_bad_switch_is_refused_in_words(person, personal_version, body, status, words):
    client, _ = person
    response = client.post("/api/model", body, content_type="application/json")
    assert response.status_code == status and words in response.json()["error"]


def test_switching_without_a_personal_model_says_how_to_get_one(person):
    client, _ = person
    response = client.post("/api/model", {"use": "personal"}, content_type="application/json")
    assert response.status_code == 404 and "press Train" in response.json()["error"]


def test_deleting_the_personal_model_removes_its_file_and_the_shared_model_reads_again(
    person, personal_version, active_model_version, django_capture_on_commit_callbacks
):
    client, _ = person
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete("/api/model").status_code == 204
    assert not ModelVersion.objects.filter(pk=personal_version.pk).exists()
    assert not personal_version.weights_path.exists()
    assert predict(client)["model_version"] == active_model_version.pk
    assert client.get("/api/model").json()["personal"] is None


def test_another_session_cannot_switch_or_delete_someone_elses_model(person, personal_version):
    stranger = Client()
    assert stranger.post("/api/model", {"use": "shared"}, content_type="application/json").status_code == 404
    assert stranger.delete("/api/model").status_code == 204
    assert ModelVersion.objects.filter(pk=personal_version.pk).exists()
    assert PersonalModel.objects.get().enabled


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_personal_model_that_cannot_load_falls_back_to_the_shared_one_with_a_note(
    person, personal_version, active_model_version, damage, caplog
):
    inference.reset()
    if damage == "missing":
        personal_version.weights_path.unlink()
    else:
        personal_version.weights_path.write_bytes(b"not a checkpoint")
    client, _ = person
    with caplog.at_level(logging.WARNING, logger="recognizer.inference"):
        answer = predict(client)
    assert (answer["model_version"], answer["personal"]) == (active_model_version.pk, False)
    assert "could not be loaded" in answer["note"]
    assert f"Cannot load model {personal_version}" in caplog.text


def test_a_session_keeps_at_most_two_personal_versions(person, tiny_checkpoint, store_version,
                                                       django_capture_on_commit_callbacks):
    _, key = person
    versions = []
    for n in range(4):
        with django_capture_on_commit_callbacks(execute=True):
            versions.append(store_version(f"p{n}.pt", tiny_checkpoint, owner=key))
            personal_model_promote(visitor=Visitor(key), version=versions[-1])
    kept = list(ModelVersion.objects.filter(owner=key).order_by("id"))
    assert kept == versions[-settings.PERSONAL_MODELS_PER_SESSION:]
    assert [v.weights_path.exists() for v in versions] == [False, False, True, True]
    assert PersonalModel.objects.get(session_key=key).version == versions[-1]


def test_the_page_state_says_when_a_newer_shared_model_exists(person, personal_version, tiny_checkpoint,
                                                              store_version):
    from recognizer.versions import model_version_activate

    client, _ = person
    assert client.get("/api/model").json()["newer_shared"] is False
    newer = model_version_activate(version=store_version("newer.pt", tiny_checkpoint))
    state = client.get("/api/model").json()
    assert state["newer_shared"] is True and state["shared"]["version"] == newer.pk
    assert predict(client)["model_version"] == personal_version.pk  # it keeps serving until retrained


def test_the_cache_keeps_at_most_its_capacity_and_drops_the_least_recently_used(
    active_model_version, tiny_checkpoint, store_version
):
    cache = inference.PredictorCache(capacity_bytes=1 << 40)
    versions = [store_version(f"c{n}.pt", tiny_checkpoint) for n in range(3)]
    cache.get(versions[0].pk)
    cache.capacity_bytes = 2 * cache.resident_bytes  # room for two of them
    cache.get(versions[1].pk)
    cache.get(versions[0].pk)  # used again: now the most recent
    cache.get(versions[2].pk)
    assert len(cache) == 2 and versions[0].pk in cache and versions[1].pk not in cache
