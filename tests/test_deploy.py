"""The settings module serves production as is: DEBUG off, gunicorn, static files, env configuration."""

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import http.client
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from bench.harness.processes import free_port
from mnistsite.settings import env_bool, env_int
from recognizer.tests.drawings import canvas_png

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# What a TLS-terminating reverse proxy provides; everything else must pass `check --deploy`.
PROXY_WARNINGS = {"security.W004", "security.W008", "security.W012", "security.W016"}


def production_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="mnistsite.settings", DJANGO_DEBUG="false", DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", MODEL_DIR=str(tmp_path / "models"),
        MEDIA_ROOT=str(tmp_path / "media"), STATIC_ROOT=str(tmp_path / "static"),
    )
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_check_deploy_only_warns_about_what_a_tls_proxy_sets(tmp_path):
    result = manage("check", "--deploy", env=production_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert set(re.findall(r"\((security\.\w+)\)", result.stdout + result.stderr)) <= PROXY_WARNINGS


def test_env_helpers_fail_loudly_on_values_they_cannot_read(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "perhaps")
    monkeypatch.setenv("SOME_NUMBER", "many")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG"):
        env_bool("SOME_FLAG", False)
    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER"):
        env_int("SOME_NUMBER", 1)


def test_the_local_secret_key_and_data_stay_out_of_git():
    ignored = subprocess.run(["git", "check-ignore", ".secret_key", "db.sqlite3", "data/x", "media/x", "var/x"],
                             cwd=ROOT, capture_output=True, text=True)
    assert ignored.stdout.split() == [".secret_key", "db.sqlite3", "data/x", "media/x", "var/x"]


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(url)


@contextlib.contextmanager
def gunicorn(env: dict[str, str], *options: str, log: Path | None = None) -> Iterator[str]:
    """gunicorn with the production config (gunicorn.conf.py) on a free loopback port, until the block ends;
    yields the site's base URL once it answers. Its output goes to ``log`` when given."""
    port = free_port()
    output = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [str(Path(PYTHON).parent / "gunicorn"), "mnistsite.wsgi:application", "--config", "gunicorn.conf.py",
         "--bind", f"127.0.0.1:{port}", *options],
        cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/api/health")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
        if log:
            output.close()


def predict(base: str) -> tuple[int, dict, dict]:
    """POST a canvas PNG to the running site's /api/predict: the status, the headers and the JSON answer
    (or error)."""
    request = urllib.request.Request(f"{base}/api/predict", data=canvas_png(), headers={"Content-Type": "image/png"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, dict(refused.headers), json.loads(refused.read())


@pytest.mark.slow
def test_gunicorn_serves_the_site_with_debug_off(tmp_path):
    env = production_env(tmp_path)
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        result = manage(*command, env=env)
        assert result.returncode == 0, result.stderr
    with gunicorn(env, "--workers", "1", "--threads", "2") as base:
        page = urllib.request.urlopen(f"{base}/").read().decode()
        stylesheet = re.search(r'href="(/static/[^"]+\.css)"', page).group(1)
        assert urllib.request.urlopen(base + stylesheet).status == 200  # whitenoise, DEBUG off
        status, _, answer = predict(base)
        assert status == 200 and answer["digit"] == 7 and answer["model_version"] == 1


@pytest.mark.django_db
def test_pages_carry_the_security_headers(client):
    response = client.get("/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.slow
def test_the_rate_limit_is_shared_by_every_gunicorn_worker(tmp_path):
    env = {**production_env(tmp_path), "RATE_LIMIT_PREDICT": "6/60", "RATE_LIMIT_STORE": str(tmp_path / "rl.sqlite3")}
    assert manage("migrate", "--noinput", env=env).returncode == 0
    with gunicorn(env, "--workers", "2", "--threads", "2") as base:
        if time.time() % 60 > 45:  # start well inside a budget window
            time.sleep(61 - time.time() % 60)
        # A new connection each time: the two workers take turns accepting them.
        answers = [predict(base) for _ in range(10)]
    assert [status for status, _, _ in answers] == [200] * 6 + [429] * 4
    assert all(1 <= int(headers["Retry-After"]) <= 60 and "Wait" in body["error"]
               for status, headers, body in answers if status == 429)


def stalled_upload(port: int) -> socket.socket:
    """A connection that sends a predict request's headers and the first bytes of its body, then nothing."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=15)
    connection.sendall(b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
                       b"Content-Length: 1381\r\n\r\n\x89PNG\r\n")
    return connection


def reply(connection: socket.socket) -> tuple[int, dict]:
    """The status and JSON body of the response the server sends on ``connection``."""
    response = http.client.HTTPResponse(connection)
    response.begin()
    return response.status, json.loads(response.read())


@pytest.mark.slow
def test_stalled_uploads_get_408_and_free_the_threads_they_held(tmp_path):
    env = {**production_env(tmp_path), "REQUEST_BODY_TIMEOUT": "1.5"}
    assert manage("migrate", "--noinput", env=env).returncode == 0
    with gunicorn(env, "--workers", "1", "--threads", "2") as base:
        port = int(base.rsplit(":", 1)[1])
        started = time.monotonic()
        stalled = [stalled_upload(port) for _ in range(2)]  # every thread of the site
        answers = [reply(connection) for connection in stalled]
        waited = time.monotonic() - started
        status, _, answer = predict(base)
    for code, body in answers:
        assert code == 408 and "stopped arriving" in body["error"]
    assert 1.4 < waited < 6
    assert status == 200 and answer["digit"] == 7  # the threads serve again


@pytest.mark.slow
def test_a_chunked_upload_is_told_to_send_a_content_length(tmp_path):
    env = production_env(tmp_path)
    assert manage("migrate", "--noinput", env=env).returncode == 0
    with gunicorn(env, "--workers", "1", "--threads", "2") as base:
        connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=15)
        connection.request("POST", "/api/predict", body=iter([canvas_png()]), headers={"Content-Type": "image/png"},
                           encode_chunked=True)
        response = connection.getresponse()
        status, body = response.status, json.loads(response.read())
    assert status == 411 and "Content-Length" in body["error"]


@pytest.mark.slow
def test_ctrl_c_on_bin_run_stops_everything_within_5_s_and_marks_the_run_in_progress_interrupted(tmp_path):
    from bench.harness.client import MULTIPART_TYPE, Session, multipart_body
    from recognizer.tests.drawings import draw, encode

    port = free_port()
    env = {**production_env(tmp_path), "PORT": str(port), "RATE_LIMIT_ENABLED": "false",
           "FINE_TUNE_EPOCHS": "400",  # a run long enough to be stopped in the middle
           "FINE_TUNE_NONDIGITS_PER_FAMILY": "1", "GATE_NONDIGITS_PER_FAMILY": "1"}  # a quicker warm-up
    log = open(tmp_path / "run.log", "w")  # noqa: SIM115 - closed below
    site = subprocess.Popen(["bin/run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)  # its own process group, as a terminal's Ctrl-C reaches
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/api/health", timeout=180)
        person = Session(port)
        person.request("GET", "/")  # the CSRF cookie
        one = encode(draw(path=[(0.5, 0.0), (0.5, 1.0)]))
        for label, drawing in [(7, canvas_png())] * 6 + [(1, one)] * 6:
            saved, _ = person.request("POST", "/api/samples", multipart_body(drawing, {"label": str(label)}),
                                      {"Content-Type": MULTIPART_TYPE})
            assert saved == 201
        job = json.loads(person.request("POST", "/api/train")[1])["job"]
        deadline = time.monotonic() + 120
        while json.loads(person.request("GET", f"/api/train/{job}")[1])["status"] != "running":
            assert time.monotonic() < deadline, "the run never started"
            time.sleep(0.1)

        pressed = time.monotonic()
        os.killpg(site.pid, signal.SIGINT)  # what Ctrl-C sends: the whole foreground group
        site.wait(timeout=30)
        stopped_after = time.monotonic() - pressed
    finally:
        if site.poll() is None:
            os.killpg(site.pid, signal.SIGKILL)
        log.close()
    output = (tmp_path / "run.log").read_text()
    assert stopped_after < 5, "\n".join(line for line in output.splitlines()[-400:] if not line.startswith(" "))
    assert "SIGKILL" not in output and "Perhaps out of memory" not in output
    status = json.loads(manage("shell", "-c", f"from training.models import TrainingRun as R; import json; "
                                              f"r = R.objects.get(pk={job}); print(json.dumps([r.status, r.error]))",
                               env=env).stdout.strip().splitlines()[-1])
    assert status[0] == "failed" and status[1].startswith("Interrupted"), status
