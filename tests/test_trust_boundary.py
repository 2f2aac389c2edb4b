"""The trust boundary: no request of a visitor reaches anything that is not theirs.

Every endpoint and method that reads, changes or deletes a visitor's data is sent with no cookie, an expired one,
a forged one and another visitor's own, on a site that holds shared versions (active and inactive), and a victim's
samples, personal model and queued run. Nothing of the victim's or of the shared models may change: rows, files in
both storages, and what the victim's own requests answer.
"""

import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.files.storage import default_storage, storages
from django.test import Client
from django.utils import timezone

from recognizer.models import ModelVersion, PersonalModel, Sample
from recognizer.tests.drawings import as_upload, canvas_png
from recognizer.versions import personal_model_promote
from recognizer.visitors import Visitor
from training.models import TrainingRun

pytestmark = pytest.mark.django_db

SEVEN = canvas_png()
COOKIE = settings.SESSION_COOKIE_NAME


def _files(storage, folder: str = "") -> set[str]:
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return set()
    names = {f"{folder}/{name}".lstrip("/") for name in files}
    for sub in folders:
        names |= _files(storage, f"{folder}/{sub}".lstrip("/"))
    return names


@pytest.fixture
def site(active_model_version, store_version, tiny_checkpoint, tasks_not_run):
    """A site with a rollback target and a rejected candidate beside the active version, and a victim who keeps
    samples, a personal model and a queued run."""
    rollback = store_version("rollback.pt", tiny_checkpoint, notes="the last version staff activated",
                             activated=timezone.now() - timedelta(days=3))
    candidate = store_version("candidate.pt", tiny_checkpoint, gate_passed=False, notes="a rejected candidate")
    victim = Client()
    for label in ("7", "7", "1"):
        assert victim.post("/api/samples", {"file": as_upload(SEVEN), "label": label}).status_code == 201
    key = victim.cookies[COOKIE].value
    mine = store_version("victims.pt", tiny_checkpoint, owner=key, parent=active_model_version, trained_on=3)
    personal_model_promote(visitor=Visitor(key), version=mine)
    run = TrainingRun.objects.create(kind=TrainingRun.Kind.PERSONAL, session_key=key,
                                     parent=active_model_version)
    run.samples.set(Sample.objects.filter(session_key=key))
    samples = list(Sample.objects.filter(session_key=key))
    versions = [active_model_version, rollback, candidate, mine]
    return {"victim": victim, "key": key, "samples": samples, "versions": versions, "run": run,
            "files": {name for s in samples for name in (s.drawing.name, s.digit.name)},
            "weights": {version.weights_name for version in versions}}


def state(site) -> dict:
    """Everything of the victim's and of the shared models, as the database and both storages hold it, and as the
    victim's own requests see it."""
    victim = site["victim"]
    return {
        "versions": list(ModelVersion.objects.order_by("pk").values_list("pk", "kind", "owner", "is_active",
                                                                         "weights_name", "weights_sha256")),
        "personal": list(PersonalModel.objects.values_list("session_key", "version_id", "enabled")),
        "samples": list(Sample.objects.filter(session_key=site["key"]).order_by("pk")
                        .values_list("pk", "label", "status", "drawing", "digit")),
        "runs": list(TrainingRun.objects.filter(session_key=site["key"]).values_list("pk", "status")),
        "session": Session.objects.filter(session_key=site["key"]).exists(),
        # Files of their own that others' requests add are theirs; none of these may go or change.
        "media": {name: default_storage.open(name).read() for name in _files(default_storage, "samples")
                  if name in site["files"]},
        "weights": _files(storages["models"]) & site["weights"],
        "answers": [victim.get(url).content for url in ("/api/samples", "/api/model", "/api/train", "/api/me")],
    }


def attacker(kind: str, site) -> Client:
    client = Client()
    if kind == "expired":
        expired, _ = Session.objects.get_or_create(session_key="x" * 32, defaults={
            "session_data": "", "expire_date": timezone.now() - timedelta(minutes=1)})
        client.cookies[COOKIE] = expired.session_key
    elif kind == "forged":
        client.cookies[COOKIE] = site["key"][:-4] + "zzzz"
    elif kind == "another visitor's":
        assert client.post("/api/samples", {"file": as_upload(SEVEN), "label": "3"}).status_code == 201
    return client


def every_request(site) -> list[tuple[str, str, dict]]:
    """(method, path, body) for every method of every endpoint that touches a visitor's data, aimed at the
    victim's own ids where an endpoint takes one."""
    sample, run = site["samples"][0], site["run"]
    image = {"file": as_upload(SEVEN)}
    return [
        ("get", "/api/samples", {}), ("post", "/api/samples", {**image, "label": "2"}), ("delete", "/api/samples", {}),
        ("delete", f"/api/samples/{sample.pk}", {}),
        ("post", "/api/samples/number", {**image, "labels": "7"}),
        ("get", "/api/model", {}), ("post", "/api/model", {"use": "shared"}), ("post", "/api/model", {"use": "personal"}),
        ("delete", "/api/model", {}),
        ("get", "/api/train", {}), ("post", "/api/train", {}), ("get", f"/api/train/{run.pk}", {}),
        ("get", "/api/me", {}), ("delete", "/api/me", {}),
        ("post", "/api/predict", image), ("post", "/api/read", image),
    ]


def send(client: Client, method: str, path: str, body: dict):
    if "file" in body:
        body = {**body, "file": as_upload(SEVEN)}  # an upload is read once: each request gets its own
    return getattr(client, method)(path, body) if body else getattr(client, method)(path)


@pytest.mark.parametrize("kind", ["no", "expired", "forged", "another visitor's"])
def test_no_request_reaches_anything_of_another_visitor_or_a_shared_version(site, kind):
    before = state(site)
    another = attacker(kind, site)
    victims = {str(s.pk) for s in site["samples"]} | {site["key"]}
    for method, path, body in every_request(site):
        # Each request as it comes: a save would give a cookie-less client a session for the requests after it.
        client = another if kind == "another visitor's" else attacker(kind, site)
        response = send(client, method, path, body)
        assert response.status_code < 500, (method, path, response.content)
        if response.get("Content-Type", "").startswith("application/json"):
            answer = response.json()
            assert site["key"] not in json.dumps(answer), (method, path)
            listed = answer.get("samples")
            for sample in listed if isinstance(listed, list) else []:
                assert str(sample["id"]) not in victims, (method, path)
            if path in {"/api/predict", "/api/read"}:
                assert answer.get("personal") is False, (path, answer)
                assert answer["model_version"] == site["versions"][0].pk
        if path == f"/api/samples/{site['samples'][0].pk}" or path == f"/api/train/{site['run'].pk}":
            assert response.status_code == 404, (method, path)
    after = state(site)
    assert after == before
    assert len(after["media"]) == 6 and len(after["weights"]) == 4


def test_a_cookie_less_request_that_changes_nothing_creates_no_session(site):
    sessions = Session.objects.count()
    client = Client()
    for method, path, body in every_request(site):
        if method == "post" and path not in {"/api/predict", "/api/read"}:
            continue  # a save or a run is a change: it gets a session of its own
        response = send(client, method, path, body)
        assert response.status_code < 500, (method, path)
    assert Session.objects.count() == sessions
    assert COOKIE not in client.cookies or not client.cookies[COOKIE].value


def test_shared_versions_cannot_be_given_an_owner_or_lose_their_kind(site):
    from django.db import IntegrityError, transaction

    shared = site["versions"][1]
    for change in ({"owner": ""}, {"owner": "a" * 32}, {"kind": ModelVersion.Kind.PERSONAL}):
        with pytest.raises(IntegrityError), transaction.atomic():
            ModelVersion.objects.filter(pk=shared.pk).update(**change)
    with pytest.raises(ValueError):
        Visitor(session_key="")
    assert not ModelVersion.objects.owned_by(Visitor("x" * 32)).exists()


def test_deleting_all_my_data_leaves_nothing_of_it_in_the_database_or_either_storage(
        site, django_capture_on_commit_callbacks):
    victim, key = site["victim"], site["key"]
    theirs = {name for s in site["samples"] for name in (s.drawing.name, s.digit.name)}
    their_weights = set(ModelVersion.objects.owned_by(Visitor(key)).values_list("weights_name", flat=True))
    others = state(site)
    with django_capture_on_commit_callbacks(execute=True):  # files go once the deletion is committed
        response = victim.delete("/api/me")

    assert response.status_code == 200
    assert response.json()["deleted"] == {"samples": 3, "personal_models": 1, "training_runs": 1}
    assert not Sample.objects.filter(session_key=key).exists()
    assert not ModelVersion.objects.filter(owner=key).exists()
    assert not PersonalModel.objects.filter(session_key=key).exists()
    assert not TrainingRun.objects.filter(session_key=key).exists()
    assert not Session.objects.filter(session_key=key).exists()
    assert not theirs & _files(default_storage, "samples")
    assert not their_weights & _files(storages["models"])
    assert list(ModelVersion.objects.shared().values_list("pk", flat=True)) == [
        v.pk for v in reversed(site["versions"][:3])]
    assert _files(storages["models"]) & site["weights"] == others["weights"] - their_weights
    assert victim.get("/api/me").json()["samples"] == 0


def test_deleting_my_model_cancels_my_queued_run_so_it_cannot_bring_the_model_back(site):
    victim, run = site["victim"], site["run"]
    assert victim.delete("/api/model").status_code == 204
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.CANCELLED
    assert not ModelVersion.objects.owned_by(Visitor(site["key"])).exists()
    from training.execution import training_run_execute

    assert training_run_execute(run_id=run.pk).status == TrainingRun.Status.CANCELLED  # a worker skips it
    assert not ModelVersion.objects.owned_by(Visitor(site["key"])).exists()
    assert victim.get("/api/model").json()["personal"] is None
