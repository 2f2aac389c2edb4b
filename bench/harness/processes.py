"""The throwaway site the server benchmarks run against: its environment, gunicorn and the training worker
started and stopped, free ports, and a stub S3 server (moto) for object storage.

A temp folder holds the SQLite database, ``MODEL_DIR``, ``MEDIA_ROOT`` and ``STATIC_ROOT`` (collected fresh, so
a browser sees the page as the code stands); ``DEBUG`` is off and the secret key random. gunicorn (gthread) serves
it on 127.0.0.1 at a free port; ``manage.py training_worker`` can run beside it. Each server runs in its own
session, so a Ctrl-C in the terminal reaches only the benchmark, which stops them by PID. gunicorn runs from the
repository root, so a ``gunicorn.conf.py`` there is read too; the flags given here override it.

The per-client rate limit is switched off (``RATE_LIMIT_ENABLED=false``): every benchmark client comes from
127.0.0.1, and throttling it would measure the limiter, not the site.
"""

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.harness.client import HEALTH, request_once
from bench.harness.results import ROOT

DEFAULT_CHECKPOINT = Path("recognizer/weights/base.pt")  # relative to the repository root, where benches run
ACCESS_LOG_FORMAT = "%(s)s %(D)s %(U)s"  # status, request time in microseconds, path
# Settings every benchmark site runs with (see the module docstring); benchmarks record them with their results.
SITE_SETTINGS = {"RATE_LIMIT_ENABLED": "false", "TASKS_BACKEND": "django_tasks_db.DatabaseBackend"}

ACTIVATE = """
import os
from pathlib import Path
from recognizer.ml.checkpoints import file_sha256, load_checkpoint
from recognizer.models import ModelVersion
from recognizer.versions import model_version_activate
from recognizer.weights import weights_upload
source = Path(os.environ["BENCH_CHECKPOINT"])
sha = file_sha256(source)
version = ModelVersion.objects.filter(weights_sha256=sha).first()
if version is None:
    name = f"bench-{sha[:12]}.pt"
    weights_upload(source, name)
    version = ModelVersion.objects.create(weights_name=name, weights_sha256=sha, notes="benchmark checkpoint",
                                          architecture=load_checkpoint(source)[0].architecture)
model_version_activate(version=version)
print(f"active model: {version} sha256 {sha}")
"""


@dataclass(frozen=True)
class Site:
    port: int
    tmp: Path
    env: dict
    gunicorn: subprocess.Popen

    @property
    def access_log(self) -> Path:
        return self.tmp / "access.log"


def checkpoint_found(checkpoint: Path) -> bool:
    """Whether ``checkpoint`` exists; when not, say so on stderr."""
    if checkpoint.exists():
        return True
    print(f"no checkpoint at {checkpoint}; pass --checkpoint PATH", file=sys.stderr)
    return False


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt  # SIGTERM: unwind through the finally blocks that stop the servers


def unwind_on_sigterm() -> None:
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)


# --- the throwaway site ------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def site_environment(tmp: Path, checkpoint: Path, extra: dict[str, str] | None = None) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mnistsite.settings",
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
        "MODEL_DIR": str(tmp / "models"),
        "MEDIA_ROOT": str(tmp / "media"),
        "STATIC_ROOT": str(tmp / "static"),   # collected fresh: the page is served as the code stands now
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        **SITE_SETTINGS,  # the rate limit off: one IP sends everything; see the module docstring
        "BENCH_CHECKPOINT": str(checkpoint.resolve()),
        **(extra or {}),
    }


def manage_shell(env: dict, code: str) -> str:
    """Run ``code`` in ``manage.py shell`` against the site's settings; return what it printed."""
    done = subprocess.run([sys.executable, str(ROOT / "manage.py"), "shell", "-v", "0", "-c", code], cwd=ROOT,
                          env=env, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def prepare_site(env: dict) -> str:
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        subprocess.run([sys.executable, str(ROOT / "manage.py"), *command, "-v", "0"], cwd=ROOT, env=env, check=True)
    return manage_shell(env, ACTIVATE)


def start_gunicorn(env: dict, tmp: Path, port: int, workers: int, threads: int,
                   timeout: int | None = None) -> subprocess.Popen:
    """gunicorn's own log and the workers' stderr (Django's log) go to ``tmp/gunicorn.log``."""
    command = [sys.executable, "-m", "gunicorn", "mnistsite.wsgi:application", "--bind", f"127.0.0.1:{port}",
               "--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread",
               "--access-logfile", str(tmp / "access.log"), "--access-logformat", ACCESS_LOG_FORMAT,
               "--error-logfile", str(tmp / "gunicorn.log"), "--capture-output",
               "--no-control-socket"]  # else every gunicorn here would share ~/.gunicorn/gunicorn.ctl
    if timeout is not None:
        command += ["--timeout", str(timeout)]
    # Its own session: a Ctrl-C in this terminal reaches only us, and we stop it in order.
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_training_worker(env: dict, tmp: Path, interval: float = 0.5) -> subprocess.Popen:
    """``manage.py training_worker`` (django-tasks-db's db_worker) on the site's database, polling the queue every
    ``interval`` seconds (bin/run's worker: 1.0); log in tmp."""
    log = open(tmp / "training_worker.log", "ab")  # noqa: SIM115 - the child keeps the descriptor
    try:
        return subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "training_worker", "--interval",
                                 str(interval)],
                                cwd=ROOT, env=env, start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
    finally:
        log.close()


def stop_process(process: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM (gunicorn stops its workers gracefully; db_worker finishes or abandons its task), then SIGKILL."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # its own process group, made by start_new_session
        process.wait(timeout=5)


def wait_until_healthy(process: subprocess.Popen, port: int, tmp: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (tmp / "gunicorn.log").read_text() if (tmp / "gunicorn.log").exists() else ""
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log[-3000:]}")
        try:
            status, _ = request_once(port, HEALTH)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer /api/health within {timeout:.0f} s")


@contextlib.contextmanager
def running_site(checkpoint: Path, workers: int, threads: int, *, timeout: int | None = None,
                 extra_env: dict[str, str] | None = None) -> Iterator[Site]:
    """A migrated throwaway site served by gunicorn, ``checkpoint`` active. Always stopped and removed."""
    tmp = Path(tempfile.mkdtemp(prefix="mnistsite-bench-"))
    process = None
    try:
        env = site_environment(tmp, checkpoint, extra_env)
        print(prepare_site(env))
        port = free_port()
        process = start_gunicorn(env, tmp, port, workers, threads, timeout)
        print(f"gunicorn pid {process.pid} on 127.0.0.1:{port}: {workers} workers x {threads} threads")
        wait_until_healthy(process, port, tmp)
        yield Site(port, tmp, env, process)
    finally:
        if process is not None:
            stop_process(process)
        shutil.rmtree(tmp, ignore_errors=True)


# --- an S3 server for object storage -----------------------------------------------------------------------

S3_KEYS = {"access_key": "testing", "secret_key": "testing"}  # moto takes any


@contextlib.contextmanager
def running_s3(log: Path) -> Iterator[str]:
    """moto's S3-compatible server on a free 127.0.0.1 port, as a real endpoint over HTTP; yields its URL and is
    stopped by its PID."""
    port = free_port()
    with open(log, "wb") as output:
        process = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p",
                                    str(port)], stdout=output, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.05)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


def s3_bucket_create(endpoint: str, name: str):
    """A new bucket on that endpoint; returns the boto3 client that made it."""
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id=S3_KEYS["access_key"], aws_secret_access_key=S3_KEYS["secret_key"])
    client.create_bucket(Bucket=name)
    return client


def s3_environment(endpoint: str, bucket: str) -> dict[str, str]:
    """What a site needs in its environment to keep its files in that bucket (settings.py reads it)."""
    return {"STORAGE_S3_BUCKET": bucket, "STORAGE_S3_ENDPOINT_URL": endpoint, "STORAGE_S3_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": S3_KEYS["access_key"], "AWS_SECRET_ACCESS_KEY": S3_KEYS["secret_key"]}
