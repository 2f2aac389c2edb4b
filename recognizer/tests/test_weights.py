"""Model weights through the storage API: on the file system where they lie, and from a storage with no local
paths (as S3 is) through each host's bounded, checksum-checked local cache."""

import logging

import pytest
from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage
from django.test import Client

from recognizer import inference
from recognizer.ml.checkpoints import CheckpointError
from recognizer.models import ModelVersion
from recognizer.tests.drawings import as_upload, canvas_png
from recognizer.versions import model_version_activate, model_version_create, model_versions_delete
from recognizer.weights import weights_storage


class NoLocalPaths(Storage):
    """A store that, like S3, gives no local path to its objects (Storage.path raises): weights have to be
    fetched. Its objects are files in a folder of the test's own."""

    def __init__(self, location: str) -> None:
        self.files = FileSystemStorage(location=location)

    def _open(self, name, mode="rb"):
        return self.files._open(name, mode)

    def _save(self, name, content):
        return self.files._save(name, content)

    def delete(self, name):
        self.files.delete(name)

    def exists(self, name):
        return self.files.exists(name)

    def size(self, name):
        return self.files.size(name)

    def listdir(self, path):
        return self.files.listdir(path)


@pytest.fixture
def remote_store(settings, tmp_path, db):
    settings.STORAGES = {**settings.STORAGES, "models": {
        "BACKEND": f"{__name__}.NoLocalPaths", "OPTIONS": {"location": str(tmp_path / "store")}}}
    settings.WEIGHTS_CACHE_DIR = tmp_path / "cache"
    return tmp_path


def cached(store) -> list[str]:
    folder = store / "cache"
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def test_on_the_file_system_a_version_is_loaded_where_it_lies(active_model_version):
    assert active_model_version.weights_path.parent == settings.MODEL_DIR
    assert weights_storage().exists(active_model_version.weights_name)


def test_from_a_store_without_local_paths_a_host_fetches_a_version_once(remote_store, base_network):
    version = model_version_create(network=base_network, name_prefix="remote")
    assert cached(remote_store) == []  # stored, not yet fetched
    assert version.load_network().architecture == base_network.architecture
    assert cached(remote_store) == [version.weights_name]
    (remote_store / "store" / version.weights_name).unlink()  # the store's copy gone: the host has its own
    assert version.weights_problem() is None and version.load_network() is not None


def test_weights_that_do_not_match_their_checksum_in_the_store_are_never_served(remote_store, base_network):
    version = model_version_create(network=base_network, name_prefix="tampered")
    stored = remote_store / "store" / version.weights_name
    stored.write_bytes(stored.read_bytes()[:-8] + b"tampered")
    with pytest.raises(CheckpointError, match="do not match their checksum"):
        version.load_network()
    assert cached(remote_store) == []  # nothing kept that did not match
    assert "checksum" in version.weights_problem()


def test_a_damaged_cached_copy_is_fetched_again(remote_store, base_network):
    version = model_version_create(network=base_network, name_prefix="damaged")
    version.load_network()
    copy = remote_store / "cache" / version.weights_name
    copy.write_bytes(b"not a checkpoint")
    assert version.load_network() is not None and version.weights_problem() is None


def test_the_cache_keeps_to_its_size_dropping_the_least_recently_used(remote_store, base_network, settings):
    first = model_version_create(network=base_network, name_prefix="first")
    first.load_network()
    size = (remote_store / "cache" / first.weights_name).stat().st_size
    settings.WEIGHTS_CACHE_BYTES = int(1.5 * size)
    second = model_version_create(network=base_network, name_prefix="second")
    second.load_network()
    assert cached(remote_store) == [second.weights_name]


def test_deleting_a_version_deletes_it_from_the_store_and_the_cache(remote_store, base_network,
                                                                     django_capture_on_commit_callbacks):
    version = model_version_create(network=base_network, name_prefix="doomed")
    version.load_network()
    with django_capture_on_commit_callbacks(execute=True):
        model_versions_delete(ModelVersion.objects.filter(pk=version.pk))
    assert not (remote_store / "store" / version.weights_name).exists() and cached(remote_store) == []


def test_predictions_are_served_from_a_version_in_the_store(remote_store, base_network, caplog):
    version = model_version_activate(version=model_version_create(network=base_network, name_prefix="served"))
    inference.reset()
    with caplog.at_level(logging.INFO, logger="recognizer.weights"):
        answers = [Client().post("/api/predict", {"file": as_upload(canvas_png())}).json() for _ in range(3)]
    assert {(a["digit"], a["model_version"]) for a in answers} == {(7, version.pk)}
    assert [r.message for r in caplog.records].count(f"Fetched weights {version.weights_name} into the local cache") == 1


def test_a_host_that_cannot_fetch_a_newly_activated_version_keeps_serving_the_one_it_has(remote_store, base_network):
    serving = model_version_activate(version=model_version_create(network=base_network, name_prefix="old"))
    inference.reset()
    predict = lambda: Client().post("/api/predict", {"file": as_upload(canvas_png())}).json()  # noqa: E731
    assert predict()["model_version"] == serving.pk
    newer = model_version_create(network=base_network, name_prefix="new")
    (remote_store / "store" / newer.weights_name).unlink()  # the store cannot give it to this host
    ModelVersion.objects.filter(pk=serving.pk).update(is_active=False)  # activated elsewhere, as another host would
    ModelVersion.objects.filter(pk=newer.pk).update(is_active=True)
    inference.forget_active_version()
    answer = predict()
    assert answer["model_version"] == serving.pk and answer["digit"] == 7
