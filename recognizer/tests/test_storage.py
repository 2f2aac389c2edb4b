"""Samples' files and model weights on each storage: the file system, and a real S3 bucket (moto's server over
HTTP, talked to by boto3 as a real bucket would be). Every test here runs on both (the ``store`` fixture)."""

import io
import zipfile

import pytest
from django.core.management import call_command
from django.test import Client

from recognizer import inference
from recognizer.ml.checkpoints import CheckpointError
from recognizer.models import ModelVersion, Sample
from recognizer.tests.drawings import as_upload, canvas_png
from recognizer.visitors import Visitor
from recognizer.versions import (
    model_version_activate, model_version_create, model_versions_delete, personal_model_promote,
    personal_models_of_ended_sessions_delete,
)

SEVEN = canvas_png()


@pytest.fixture
def served(store, base_network, db):
    """A shared version kept in the store under test, active, and nothing loaded yet."""
    version = model_version_activate(version=model_version_create(network=base_network, name_prefix="stored"))
    inference.reset()
    return version


def session() -> Client:
    client = Client()
    client.get("/")
    return client


def test_a_saved_sample_is_kept_in_the_store_served_by_the_site_and_deleted_from_it(
        store, served, django_capture_on_commit_callbacks):
    client = session()
    saved = client.post("/api/samples", {"file": as_upload(SEVEN), "label": "7"}).json()
    sample = Sample.objects.get(pk=saved["id"])
    assert {sample.drawing.name, sample.digit.name} <= store("media/")
    assert saved["image_url"] == f"/media/{sample.drawing.name}"  # the site's own address on either store
    image = client.get(saved["image_url"])
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert image.content == sample.drawing.open("rb").read() and image.content.startswith(b"\x89PNG")

    with django_capture_on_commit_callbacks(execute=True):  # files go once the deletion is committed
        assert client.delete(f"/api/samples/{sample.pk}").status_code == 204
    assert store("media/") == set()
    assert client.get(saved["image_url"]).status_code == 404


def test_clearing_a_sessions_samples_deletes_every_file(store, served, django_capture_on_commit_callbacks):
    client = session()
    for label in (1, 7):
        client.post("/api/samples", {"file": as_upload(SEVEN), "label": str(label)})
    assert len(store("media/")) == 4
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete("/api/samples").status_code == 204
    assert store("media/") == set()


def test_export_and_cleanup_work_on_the_store(store, served, tmp_path, settings):
    client = session()
    client.post("/api/samples", {"file": as_upload(SEVEN), "label": "7"})
    sample = Sample.objects.get()
    out = tmp_path / "export.zip"
    call_command("export_samples", str(out))
    with zipfile.ZipFile(out) as archive:
        assert archive.read(f"original/{sample.pk}.png") == sample.drawing.open("rb").read()
    orphan = "samples/2026/01/" + "a" * 32 + "-drawing.png"
    sample.drawing.storage.save(orphan, io.BytesIO(b"left behind"))
    settings.CLEANUP_GRACE_SECONDS = 0  # the orphan was just written
    call_command("cleanup_media", stdout=io.StringIO())
    assert store("media/") == {sample.drawing.name, sample.digit.name}


def test_weights_are_stored_served_and_deleted_with_their_version(store, served, base_network,
                                                                   django_capture_on_commit_callbacks):
    assert served.weights_name in store("models/")
    answer = Client().post("/api/predict", {"file": as_upload(SEVEN)}).json()
    assert (answer["digit"], answer["model_version"]) == (7, served.pk)
    old = model_version_create(network=base_network, name_prefix="old")
    with django_capture_on_commit_callbacks(execute=True):
        assert model_versions_delete(ModelVersion.objects.filter(pk=old.pk)) == 1
    assert old.weights_name not in store("models/")


def test_an_ended_sessions_personal_model_is_deleted_from_the_store(store, served, base_network,
                                                                     django_capture_on_commit_callbacks):
    mine = model_version_create(network=base_network, name_prefix="personal", owner=Visitor("e" * 32), parent=served)
    personal_model_promote(visitor=Visitor("e" * 32), version=mine)
    with django_capture_on_commit_callbacks(execute=True):
        assert personal_models_of_ended_sessions_delete() == ["e" * 8]  # no live session holds that key
    assert mine.weights_name not in store("models/")


# ---- Faults (S3 only: the file system has no endpoint to lose) ----

def test_a_sample_saved_while_the_store_is_unreachable_is_a_503_and_leaves_nothing_behind(
        settings, s3_bucket, base_network, db):
    from conftest import s3_storages

    model_version_activate(version=model_version_create(network=base_network, name_prefix="before"))
    settings.STORAGES = s3_storages("http://127.0.0.1:9", s3_bucket[1])  # the discard port: nothing answers
    response = session().post("/api/samples", {"file": as_upload(SEVEN), "label": "7"})
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert "cannot be reached" in response.json()["error"]
    assert not Sample.objects.exists()


def test_a_weights_object_changed_in_the_bucket_is_never_served(settings, s3_bucket, s3_endpoint, base_network,
                                                                tmp_path, db):
    from conftest import s3_storages

    client, bucket = s3_bucket
    settings.STORAGES = s3_storages(s3_endpoint, bucket)
    settings.WEIGHTS_CACHE_DIR = tmp_path / "cache"
    version = model_version_create(network=base_network, name_prefix="changed")
    key = f"models/{version.weights_name}"
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    client.put_object(Bucket=bucket, Key=key, Body=body[:-8] + b"tampered")
    with pytest.raises(CheckpointError, match="checksum"):
        version.load_network()
    assert not (tmp_path / "cache" / version.weights_name).exists()


def test_a_host_that_cannot_reach_the_store_for_a_new_version_keeps_serving_the_one_it_has(
        settings, s3_bucket, s3_endpoint, base_network, tmp_path, db):
    from conftest import s3_storages

    settings.STORAGES = s3_storages(s3_endpoint, s3_bucket[1])
    settings.WEIGHTS_CACHE_DIR = tmp_path / "cache"
    serving = model_version_activate(version=model_version_create(network=base_network, name_prefix="held"))
    newer = model_version_create(network=base_network, name_prefix="newer")
    inference.reset()
    predict = lambda: Client().post("/api/predict", {"file": as_upload(SEVEN)}).json()  # noqa: E731
    assert predict()["model_version"] == serving.pk
    settings.STORAGES = s3_storages("http://127.0.0.1:9", s3_bucket[1])  # the store is gone
    ModelVersion.objects.filter(pk=serving.pk).update(is_active=False)  # another host activated the newer one
    ModelVersion.objects.filter(pk=newer.pk).update(is_active=True)
    inference.forget_active_version()
    answer = predict()
    assert (answer["model_version"], answer["digit"]) == (serving.pk, 7)
