"""Personal models as a few weights on the shared trunk: stored small, served on the parent's trunk, kept by the
thousand within a memory budget, loaded once, refused when they do not fit their parent."""

import csv
import io
import logging
import zipfile

import pytest
import torch
from django.test import Client

from recognizer import inference
from recognizer.ml.personal import ADAPTER_FORMAT, PersonalAdapter
from recognizer.models import ModelVersion, Sample
from recognizer.services import samples_export_zip
from recognizer.tests.drawings import as_upload, canvas_png
from recognizer.versions import model_version_create, personal_model_promote
from recognizer.visitors import Visitor

pytestmark = pytest.mark.django_db


def session(label: str = "7") -> tuple[Client, Visitor]:
    """A browser with a stored session of its own (it saved one drawing)."""
    client = Client()
    assert client.post("/api/samples", {"file": as_upload(canvas_png()), "label": label}).status_code == 201
    return client, Visitor(client.session.session_key)


def adapter_version(parent: ModelVersion, visitor: Visitor, *, favour: int | None = None) -> ModelVersion:
    """A personal adapter on ``parent`` for ``visitor``, promoted; ``favour`` pushes every reading towards a digit."""
    adapter = PersonalAdapter(parent.load_network())
    if favour is not None:
        with torch.no_grad():
            adapter.output.bias[favour] += 100.0
    version = model_version_create(network=adapter, name_prefix="adapter", owner=visitor, parent=parent,
                                   trained_on=20, gate_passed=True, gate_reason="test")
    personal_model_promote(visitor=visitor, version=version)
    return version


def predict(client: Client) -> dict:
    response = client.post("/api/predict", {"file": as_upload(canvas_png())})
    assert response.status_code == 200, response.content
    return response.json()


def test_a_personal_model_is_stored_as_a_few_weights_under_150_kb(active_model_version, admin_client):
    _, visitor = session()
    version = adapter_version(active_model_version, visitor)
    assert version.architecture == ADAPTER_FORMAT and version.is_adapter
    assert 50_000 < version.weights_bytes <= 150 * 1024 and version.weights_path.stat().st_size == version.weights_bytes
    assert active_model_version.weights_bytes > 2_000_000  # a whole network, for comparison
    page = admin_client.get("/admin/recognizer/modelversion/").content.decode()
    assert f"{version.weights_bytes / 1024:.0f}\u00a0KB (adapter on {active_model_version})" in page


def test_it_reads_for_its_session_only_on_its_parents_trunk(active_model_version):
    client, visitor = session()
    version = adapter_version(active_model_version, visitor, favour=3)
    mine, theirs = predict(client), predict(Client())
    assert (mine["model_version"], mine["personal"], mine["digit"]) == (version.pk, True, 3)
    assert (theirs["model_version"], theirs["personal"], theirs["digit"]) == (active_model_version.pk, False, 7)
    state = client.get("/api/model").json()
    assert state["serving"] == {"version": version.pk, "personal": True}
    assert state["personal"]["stored_bytes"] == version.weights_bytes
    summary = client.get("/api/me").json()
    assert summary["personal_models"] == 1 and summary["personal_model_bytes"] == version.weights_bytes


def test_an_adapter_unchanged_from_its_parent_reads_as_the_parent_does(active_model_version):
    client, visitor = session()
    adapter_version(active_model_version, visitor)  # its updates start at zero: the parent's own layers
    mine, theirs = predict(client), predict(Client())
    assert mine["digit"] == theirs["digit"]
    assert mine["probabilities"] == pytest.approx(theirs["probabilities"], abs=2e-3)  # float16 at rest


def test_many_personal_models_stay_loaded_each_loaded_once_on_one_shared_trunk(active_model_version, caplog,
                                                                             settings, tiny_checkpoint):
    settings.MODEL_CACHE_MB = 16  # a whole network and a hundred adapters, with room to spare
    inference.reset()
    sessions = [session() for _ in range(30)]
    versions = [adapter_version(active_model_version, visitor) for _, visitor in sessions]
    with caplog.at_level(logging.INFO, logger="recognizer.inference"):
        for _ in range(2):
            for (client, _), version in zip(sessions, versions):
                assert predict(client)["model_version"] == version.pk
    loads = [record.getMessage() for record in caplog.records if record.getMessage().startswith("Loaded model")]
    assert len(loads) == 30 + 1, loads  # each adapter once, and the parent's trunk once for all of them
    cache = inference.model_server().cache
    assert len(cache) == 31 and cache.resident_bytes < 16 * 2**20


def test_the_cache_drops_the_least_recently_used_by_memory_not_count(active_model_version, settings):
    _, first = session()
    one = adapter_version(active_model_version, first)
    cache = inference.PredictorCache(capacity_bytes=1 << 40)
    cache.get(one.pk)  # loads the parent's trunk too
    trunk_and_one = cache.resident_bytes
    cache.capacity_bytes = trunk_and_one + 150 * 1024  # room for one more adapter, not two
    two, three = (adapter_version(active_model_version, session()[1]) for _ in range(2))
    cache.get(two.pk)
    cache.get(one.pk)  # used again: now more recent than two (and it keeps its parent recent)
    cache.get(three.pk)
    assert one.pk in cache and three.pk in cache and active_model_version.pk in cache and two.pk not in cache


def test_an_adapter_that_does_not_fit_its_parent_is_refused_and_the_shared_model_reads(active_model_version,
                                                                                       store_version, tiny_checkpoint):
    client, visitor = session()
    other_parent = store_version("other.pt", tiny_checkpoint)
    version = adapter_version(active_model_version, visitor)
    ModelVersion.objects.filter(pk=version.pk).update(parent=other_parent)  # as if its parent had been swapped
    answer = predict(client)
    assert (answer["model_version"], answer["personal"]) == (active_model_version.pk, False)
    assert "could not be loaded" in answer["note"]


def test_the_export_says_which_readings_came_from_a_personal_model(active_model_version):
    client, visitor = session()
    adapter_version(active_model_version, visitor)
    assert client.post("/api/samples", {"file": as_upload(canvas_png()), "label": "7"}).status_code == 201
    archive = io.BytesIO()
    samples_export_zip(Sample.objects.all(), archive)
    with zipfile.ZipFile(archive) as opened:
        rows = list(csv.DictReader(io.StringIO(opened.read("labels.csv").decode())))
    assert [row["read_by_personal_model"] for row in rows] == ["False", "True"]


@pytest.mark.parametrize("damage", ["cut short", "odd length", "other bytes", "another parent"])
def test_damaged_adapter_bytes_are_refused_in_words_never_loaded(active_model_version, damage):
    from recognizer.ml.personal import AdapterError, adapter_bytes, adapter_from_bytes

    parent = active_model_version.load_network()
    data = adapter_bytes(PersonalAdapter(parent), parent_sha256="a" * 64)
    damaged = {"cut short": data[: len(data) // 2], "odd length": data[:-1], "other bytes": b"\x80\x02junk" * 50,
               "another parent": data}[damage]
    with pytest.raises(AdapterError):
        adapter_from_bytes(damaged, parent, parent_sha256="b" * 64 if damage == "another parent" else "a" * 64)
