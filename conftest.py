"""Fixtures shared by every app's tests."""

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from django.conf import settings
from django.db import connection

from recognizer.ml.checkpoints import file_sha256, load_checkpoint, save_checkpoint
from recognizer.ml.network import DigitNet
from recognizer.visitors import Visitor

# Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls there unless told
# it is safe (microsoft/playwright-pytest issue #29).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium: Playwright cannot download its own browser on this machine."""
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"],
    }


@pytest.fixture
def mnist_dir() -> Path:
    return settings.MNIST_DATA_DIR


@pytest.fixture(scope="session")
def mnist_test():
    """MNIST's 10 000 test digits and labels, read once."""
    from training.ml.canvas import load_mnist_test

    return load_mnist_test(settings.MNIST_DATA_DIR / "MNIST" / "raw")


@pytest.fixture(scope="session")
def base_network() -> DigitNet:
    """The shipped base model, as stored (not the served form), in eval mode."""
    return load_checkpoint(settings.BASE_MODEL_CHECKPOINT)[0]


@pytest.fixture
def tiny_checkpoint(tmp_path) -> Path:
    """A randomly initialised DigitNet saved under tmp_path."""
    torch.manual_seed(1)
    path = tmp_path / "tiny.pt"
    save_checkpoint(DigitNet(), path, metadata={"note": "random weights"})
    return path


@pytest.fixture
def store_version(db):
    """Store a checkpoint file as a new, inactive ModelVersion (its weights put in the weights storage)."""
    from recognizer.models import ModelVersion
    from recognizer.weights import weights_upload

    def store(name: str, source: Path, **fields):
        if fields.get("owner"):
            fields.setdefault("kind", ModelVersion.Kind.PERSONAL)
        weights_upload(source, name)
        return ModelVersion.objects.create(weights_name=name, weights_sha256=file_sha256(source),
                                           architecture=load_checkpoint(source)[0].architecture, **fields)

    return store


@pytest.fixture
def tasks_not_run(settings):
    """Queue background tasks without running them (the runs stay queued)."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


@pytest.fixture
def active_model_version(db):
    """The shipped base model, registered by migrate as the first active version."""
    from recognizer.models import ModelVersion

    return ModelVersion.objects.get(is_active=True)


@pytest.fixture
def make_sample(db):
    """Store a real sample (files in the test MEDIA_ROOT) for a session, through the same service as the API."""
    from recognizer.services import sample_create
    from recognizer.tests.drawings import canvas_png

    def make(session_key: str = "s" * 32, label: int = 7, **drawing):
        return sample_create(visitor=Visitor(session_key), label=label, image_bytes=canvas_png(**drawing))

    return make


@pytest.fixture(autouse=True)
def private_media_root(settings, tmp_path):
    """Each test writes its media files to a folder of its own, so counting files means something."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def nothing_loaded():
    """Each test's database starts afresh and reuses version ids, so no test may trust a network, a broken-version
    note or an active version id that another one left in this process's inference cache."""
    from recognizer import inference

    inference.reset()


@pytest.fixture
def run_at_once() -> Callable:
    """run_at_once(target, args_list, timeout=60): target(*args) for each args in its own thread, all released
    together by a barrier; waits for them. Each thread closes its own database connection, even when target
    raises: an open one would block dropping the test database."""
    def run(target: Callable, args_list: list[tuple], timeout: float = 60.0) -> None:
        start_line = threading.Barrier(len(args_list))

        def one(args: tuple) -> None:
            start_line.wait()
            try:
                target(*args)
            finally:
                connection.close()

        threads = [threading.Thread(target=one, args=(args,)) for args in args_list]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=timeout)

    return run


# ---- A real S3-compatible store: moto's standalone server over HTTP on 127.0.0.1 ----

@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory):
    """moto's S3 server, started once for the run (bench.harness.processes.running_s3)."""
    from bench.harness.processes import running_s3

    with running_s3(tmp_path_factory.mktemp("moto") / "moto.log") as endpoint:
        yield endpoint


@pytest.fixture
def s3_bucket(s3_endpoint):
    """A new, empty bucket for one test; returns a boto3 client and the bucket's name."""
    import uuid

    from bench.harness.processes import s3_bucket_create

    name = f"mnistsite-{uuid.uuid4().hex[:12]}"
    return s3_bucket_create(s3_endpoint, name), name


def s3_storages(endpoint: str, bucket: str) -> dict:
    """STORAGES as settings.py makes them from STORAGE_S3_BUCKET, for moto's endpoint and this bucket."""
    from bench.harness.processes import S3_KEYS
    from mnistsite.settings import s3_storages as bucket_storages

    return {**settings.STORAGES, **bucket_storages(bucket, endpoint_url=endpoint, region="us-east-1", **S3_KEYS)}


@pytest.fixture(params=["file system", "S3"])
def store(request, settings, tmp_path):
    """Run a test on each storage: the file system (MODEL_DIR, MEDIA_ROOT), then a real S3 bucket served by moto.
    Returns a function listing the names the store keeps under a prefix ("media/" or "models/")."""
    if request.param == "file system":
        roots = {"media/": Path(settings.MEDIA_ROOT), "models/": Path(settings.MODEL_DIR)}

        def names(prefix: str) -> set[str]:
            root = roots[prefix]
            return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()

        return names
    client, bucket = request.getfixturevalue("s3_bucket")
    settings.STORAGES = s3_storages(request.getfixturevalue("s3_endpoint"), bucket)
    settings.WEIGHTS_CACHE_DIR = tmp_path / "weights-cache"

    def names(prefix: str) -> set[str]:
        listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        return {item["Key"][len(prefix):] for item in listed}

    return names
