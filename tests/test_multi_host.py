"""Several hosts, no shared disk: two gunicorn sites and a training worker, each with folders of its own, one
database and one S3 bucket (moto's server over HTTP). A person's samples saved through host A and the personal
model trained by the worker are served by host B to the same session cookie, and deleting through B empties the
bucket of their files.

The database is the run's own kind: under bin/with-postgres a fresh PostgreSQL database made for this test, else
one SQLite file (the storage is what this test is about; the database is shared either way).
"""

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from bench.harness.client import Session
from bench.harness.processes import (
    free_port, s3_environment, start_gunicorn, start_training_worker, stop_process, wait_until_healthy,
)
from recognizer.tests.drawings import canvas_png

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow
QUICK_TRAINING = {"FINE_TUNE_EPOCHS": "2", "FINE_TUNE_REPLAY": "1000", "FINE_TUNE_VALIDATION_LIMIT": "1000",
                  "GATE_NONDIGITS_PER_FAMILY": "1", "FINE_TUNE_NONDIGITS_PER_FAMILY": "1"}


@pytest.fixture
def shared_database(tmp_path):
    """A database URL the hosts share, made for this test and dropped after it."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        yield f"sqlite:///{tmp_path / 'shared.sqlite3'}"
        return
    import psycopg

    name = f"mnistsite_hosts_{uuid.uuid4().hex[:8]}"
    server = url.rsplit("/", 1)[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def host_environment(folder: Path, database: str, endpoint: str, bucket: str) -> dict:
    """One host: its own media, models, weights cache and static folders; the shared database and bucket."""
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "mnistsite.settings", "DATABASE_URL": database,
            "MODEL_DIR": str(folder / "models"), "MEDIA_ROOT": str(folder / "media"),
            "WEIGHTS_CACHE_DIR": str(folder / "weights-cache"), "STATIC_ROOT": str(folder / "static"),
            **s3_environment(endpoint, bucket), "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": "multi-host-" + "k" * 40,  # one key for all hosts: a session cookie works on each
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "RATE_LIMIT_ENABLED": "false",
            "RATE_LIMIT_STORE": str(folder / "ratelimit.sqlite3"), "LOG_LEVEL": "WARNING", **QUICK_TRAINING}


def manage(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args, "-v", "0"], cwd=ROOT, env=env, check=True)


def person(ports: list[int]) -> list[Session]:
    """One browser's view of each host: a connection to each, all sharing one set of cookies, as a load balancer
    sends one person's requests to any host."""
    sessions = [Session(port) for port in ports]
    for session in sessions[1:]:
        session.cookies = sessions[0].cookies
    return sessions


def call(session: Session, method: str, path: str, body: dict | None = None, expect: int = 200) -> dict:
    status, content = session.request(method, path, json.dumps(body).encode() if body is not None else b"",
                                      {"Content-Type": "application/json"})
    assert status == expect, (status, content[:500])
    return json.loads(content) if content.startswith(b"{") else {}


def data_url(png: bytes) -> str:
    import base64

    return "data:image/png;base64," + base64.b64encode(png).decode()


def test_any_host_serves_any_session_with_files_and_models_in_object_storage(tmp_path, s3_endpoint, s3_bucket,
                                                                             shared_database):
    client, bucket = s3_bucket
    envs = {name: host_environment(tmp_path / name, shared_database, s3_endpoint, bucket)
            for name in ("a", "b", "worker")}
    manage(envs["a"], "migrate", "--noinput")  # registers the base model: its weights go to the bucket
    processes = []
    try:
        ports = {}
        for name in ("a", "b"):
            manage(envs[name], "collectstatic", "--noinput")
            ports[name] = free_port()
            (tmp_path / name).mkdir(exist_ok=True)
            processes.append(start_gunicorn(envs[name], tmp_path / name, ports[name], workers=1, threads=2))
            wait_until_healthy(processes[-1], ports[name], tmp_path / name)
        (tmp_path / "worker").mkdir(exist_ok=True)
        processes.append(start_training_worker(envs["worker"], tmp_path / "worker", interval=0.2))
        a, b = person([ports["a"], ports["b"]])

        call(a, "GET", "/")  # the page: a CSRF cookie
        for width in (12, 16, 20):
            call(a, "POST", "/api/samples", {"image": data_url(canvas_png(width=width)), "label": 7}, 201)
        run = call(a, "POST", "/api/train", {}, 202)["job"]
        deadline = time.monotonic() + 240
        while (status := call(b, "GET", f"/api/train/{run}"))["status"] in {"queued", "running"}:
            assert time.monotonic() < deadline, status
            time.sleep(0.5)
        assert status["status"] == "succeeded", (status, (tmp_path / "worker" / "training_worker.log").read_text())

        answer = call(b, "POST", "/api/predict", {"image": data_url(canvas_png())})
        assert answer["personal"] is True and answer["model_version"] == status["model_version"]
        assert call(Session(ports["b"]), "POST", "/api/predict", {"image": data_url(canvas_png())})["personal"] is False
        listed = call(b, "GET", "/api/samples")
        assert listed["total"] == 3
        for sample in listed["samples"]:  # the thumbnails, from B, which never saw them saved
            status_code, image = b.request("GET", "/" + sample["image_url"].lstrip("/"))
            assert status_code == 200 and image.startswith(b"\x89PNG")
        for name in ("a", "b", "worker"):  # nothing on any host's disk but its cache of weights
            assert not (tmp_path / name / "media").exists() and not (tmp_path / name / "models").exists()
        assert len(list((tmp_path / "b" / "weights-cache").glob("*.pt"))) == 2  # the shared model and the person's

        keys = lambda prefix: {o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix=prefix).get(  # noqa: E731
            "Contents", [])}
        assert len(keys("media/")) == 6
        call(b, "DELETE", "/api/samples", expect=204)
        assert keys("media/") == set()
        assert len(keys("models/")) == 2
    finally:
        for process in reversed(processes):
            stop_process(process)
