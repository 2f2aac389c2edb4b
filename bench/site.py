"""The throwaway site the server benchmarks run against, and the client they measure it with.

A temp folder holds the SQLite database, ``MODEL_DIR``, ``MEDIA_ROOT`` and ``STATIC_ROOT`` (collected fresh, so
a browser sees the page as the code stands); ``DEBUG`` is off and the secret key random. gunicorn (gthread) serves it on 127.0.0.1 at a free port; ``manage.py training_worker`` can run beside
it. Each server runs in its own session, so a Ctrl-C in the terminal reaches only the benchmark, which stops
them by PID. gunicorn runs from the repository root, so a ``gunicorn.conf.py`` there is read too; the flags
given here override it.

The per-client rate limit is switched off (``RATE_LIMIT_ENABLED=false``): every benchmark client comes from
127.0.0.1, and throttling it would measure the limiter, not the site.
"""

import argparse
import base64
import contextlib
import functools
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path

import numpy as np

from training.ml.canvas import load_mnist_test, render_canvas_sample

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_CHECKPOINT = Path("recognizer/weights/base.pt")  # relative to the repository root, where benches run
CANVAS_DIGIT = 0  # MNIST test image #0, a 7
BOUNDARY = "----mnistsite-bench-boundary"
MULTIPART_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
ACCESS_LOG_FORMAT = "%(s)s %(D)s %(U)s"  # status, request time in microseconds, path
# Settings every benchmark site runs with (see the module docstring); benchmarks record them with their results.
SITE_SETTINGS = {"RATE_LIMIT_ENABLED": "false", "TASKS_BACKEND": "django_tasks_db.DatabaseBackend"}
# What scan_log counts in gunicorn's log (with Django's) and the training worker's, and the lines it keeps.
LOG_PATTERNS = {"database is locked": "database is locked", "traceback": "Traceback", "error": r"\bERROR\b",
                "critical": "CRITICAL", "worker timeout": "WORKER TIMEOUT", "worker boot": "Booting worker",
                "internal server error": "Internal Server Error", "database busy (503)": "with 503: database",
                "refused (4xx warning)": r"Refused \w+ "}
NOTABLE_LINE = r"locked|Traceback|ERROR|CRITICAL|TIMEOUT|Error|rror:|503"

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
class Endpoint:
    name: str
    method: str
    path: str
    body: bytes
    headers: dict


@dataclass(frozen=True)
class Site:
    port: int
    tmp: Path
    env: dict
    gunicorn: subprocess.Popen

    @property
    def access_log(self) -> Path:
        return self.tmp / "access.log"


HEALTH = Endpoint("health (trivial)", "GET", "/api/health", b"", {})


# --- request bodies ----------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def mnist_test() -> tuple[np.ndarray, np.ndarray]:
    """The MNIST test images and labels, read once per process (callers must not modify them)."""
    return load_mnist_test()


def canvas_png() -> tuple[bytes, int]:
    """A 280x280 transparent RGBA canvas with one MNIST test digit drawn on it, and the digit's label."""
    images, labels = mnist_test()
    data = render_canvas_sample(images[CANVAS_DIGIT], "canvas-rgba-png", np.random.default_rng(0), size=(280, 280))
    return data, int(labels[CANVAS_DIGIT])


def multipart_body(png: bytes, fields: dict[str, str] | None = None) -> bytes:
    """A multipart/form-data body (content type MULTIPART_TYPE) with ``fields`` and the PNG as field ``file``."""
    parts = [f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n".encode()
             for name, value in (fields or {}).items()]
    parts.append((f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"canvas.png\"\r\n"
                  f"Content-Type: image/png\r\n\r\n").encode() + png + f"\r\n--{BOUNDARY}--\r\n".encode())
    return b"".join(parts)


def drawing_pool(count: int, seed: int, *, size: tuple[int, int] | None = None,
                 shuffle: bool = True) -> list[tuple[bytes, int]]:
    """``count`` multipart sample bodies (their content type is MULTIPART_TYPE), each with its correct label:
    MNIST test digits (different ones at random, or the first ``count`` without ``shuffle``) on canvases of
    random size (or ``size``), as a browser posts them."""
    images, labels = mnist_test()
    rng = np.random.default_rng(seed)
    pool = []
    for index in rng.permutation(len(images))[:count] if shuffle else range(count):
        png = render_canvas_sample(images[index], "canvas-rgba-png", rng, size=size)
        pool.append((multipart_body(png, {"label": str(int(labels[index]))}), int(labels[index])))
    return pool


def predict_multipart(png: bytes) -> Endpoint:
    return Endpoint("predict multipart", "POST", "/api/predict", multipart_body(png), {"Content-Type": MULTIPART_TYPE})


def predict_data_url(image: bytes, mime: str = "image/png") -> Endpoint:
    """The image as the drawing pad sends it: a JSON body holding a base64 data URL."""
    body = json.dumps({"image": f"data:{mime};base64,{base64.b64encode(image).decode()}"}).encode()
    return Endpoint("predict json data-url", "POST", "/api/predict", body, {"Content-Type": "application/json"})


def active_version(port: int, endpoint: Endpoint) -> int | None:
    """The model version that answers ``endpoint`` (a prediction) now; None unless it answers 200."""
    status, body = request_once(port, endpoint)
    return json.loads(body)["model_version"] if status == 200 else None


def run_figures(metrics: dict) -> dict:
    """What a finished run's metrics say, without per-digit detail: the gate's verdict, MNIST validation and
    held-out accuracy before and after, and the seconds each stage took."""
    def before_after(key: str) -> dict:
        return {when: (metrics.get(key) or {}).get(when) for when in ("before", "after")}

    return {"gate": metrics.get("gate"), "accepted": metrics.get("accepted"),
            "mnist_validation": before_after("mnist_validation"), "held_out": before_after("held_out"),
            "held_out_count": (metrics.get("held_out") or {}).get("count"), "stage_seconds": metrics.get("seconds")}


# --- what was measured, and where ---------------------------------------------------------------------------

def machine_info(*, libraries: bool = False) -> dict:
    """The machine and Python measured on. With ``libraries`` (the in-process benchmarks) also the processor,
    torch's thread count and the versions of torch, numpy, Pillow and SciPy, imported only then; without, a
    note that the HTTP clients and the servers share the cores."""
    info = {"platform": platform.platform(), "machine": platform.machine(), "python": platform.python_version(),
            "cpu_count": os.cpu_count(), "load_average": os.getloadavg()}
    if not libraries:
        return {**info, "note": "the client threads and the gunicorn workers share these cores"}
    import PIL
    import scipy
    import torch
    return {**info, "processor": platform.processor(), "torch_threads": torch.get_num_threads(),
            "versions": {"torch": torch.__version__, "numpy": np.__version__, "pillow": PIL.__version__,
                         "scipy": scipy.__version__}}


def code_state() -> dict:
    """The commit measured and any uncommitted changes to files the benchmarks exercise."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.rstrip() if done.returncode == 0 else ""

    return {"commit": git("rev-parse", "HEAD"),
            "uncommitted": git("status", "--porcelain", "--", "recognizer", "mnistsite", "bench").splitlines()}


def checkpoint_found(checkpoint: Path) -> bool:
    """Whether ``checkpoint`` exists; when not, say so on stderr."""
    if checkpoint.exists():
        return True
    print(f"no checkpoint at {checkpoint}; pass --checkpoint PATH", file=sys.stderr)
    return False


def write_result(out_dir: Path, name: str, result: dict) -> Path:
    """Write a benchmark's JSON result to out_dir/name and say where."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {path}")
    return path


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


def sanity_check(site: Site, endpoint: Endpoint, label: int) -> dict:
    """One prediction of the canvas before measuring: raises RuntimeError (with gunicorn's log) unless a 200."""
    status, body = request_once(site.port, endpoint)
    if status != 200:
        log = (site.tmp / "gunicorn.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"/api/predict answered {status}: {body[:300]!r}\n{log}")
    answer = json.loads(body)
    print(f"sanity check: predicted {answer['digit']} (label {label}), confidence {answer['confidence']:.3f}, "
          f"model version {answer['model_version']}")
    return answer


# --- the client --------------------------------------------------------------------------------------------

def request_once(port: int, endpoint: Endpoint) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(endpoint.method, endpoint.path, body=endpoint.body or None, headers=endpoint.headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


ANSWERED, REFUSED, ERROR = "answered", "refused", "error"


@dataclass(frozen=True)
class Posted:
    """What one POST came to: ANSWERED (200, with its JSON), REFUSED (4xx, with its error) or ERROR (no answer, a
    5xx or an unreadable body, with what went wrong)."""
    outcome: str
    status: int | None = None
    reply: dict | None = None
    message: str = ""


def post_for_json(port: int, endpoint: Endpoint) -> Posted:
    """Post once and read the JSON answer; never raises for what the site or the connection does."""
    try:
        status, body = request_once(port, endpoint)
    except (OSError, http.client.HTTPException) as exc:
        return Posted(ERROR, message=f"{type(exc).__name__}: {exc}")
    try:
        reply = json.loads(body)
    except ValueError as exc:
        return Posted(ERROR, status, message=f"unreadable answer ({exc}): {body[:120]!r}")
    if status == 200 and isinstance(reply, dict):
        return Posted(ANSWERED, status, reply)
    message = reply.get("error", "") if isinstance(reply, dict) else ""
    return Posted(REFUSED if 400 <= status < 500 else ERROR, status, message=message)


def add_posting_options(parser: argparse.ArgumentParser) -> None:
    """The options of benches that post a set of drawings to a site of their own."""
    parser.add_argument("--clients", type=int, default=4, help="client threads posting at once (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--server-threads", type=int, default=2, help="threads per gunicorn worker (default 2)")
    parser.add_argument("--transport", choices=("page", "json", "multipart"), default="page",
                        help="page: a canvas PNG as a JSON data URL and other encodings as an uploaded file, as "
                             "the page sends them; json or multipart: everything that way")


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


class Session:
    """A browser session: one keep-alive connection carrying its cookies and the CSRF token Django set.

    gunicorn closes a connection idle for its keepalive (2 s by default); like a browser, the session opens a
    new one rather than send on a connection the server may be closing."""

    IDLE_REOPEN_S = 1.0

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.cookies: dict[str, str] = {}
        self.last_used = 0.0

    def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> tuple[int, bytes]:
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if "csrftoken" in self.cookies and method not in {"GET", "HEAD"}:
            headers["X-CSRFToken"] = self.cookies["csrftoken"]
        if time.monotonic() - self.last_used > self.IDLE_REOPEN_S:
            self.conn.close()  # http.client opens a new connection on the next request
        try:
            self.conn.request(method, path, body=body or None, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            raise
        finally:
            self.last_used = time.monotonic()
        for header in response.headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(header)
            self.cookies.update({name: morsel.value for name, morsel in jar.items()})
        return response.status, data

    def close(self) -> None:
        self.conn.close()


def run_clients(port: int, endpoint: Endpoint, clients: int, seconds: float, max_requests: int,
                stop: threading.Event | None = None) -> dict:
    """``clients`` threads, each with one keep-alive connection, until ``seconds`` pass, ``max_requests`` have
    been sent or ``stop`` is set. Errors: non-200 answers and connection errors; 5xx are also counted apart."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    statuses: list[Counter] = [Counter() for _ in range(clients)]
    budget = iter(range(max_requests))  # next() on a shared iterator is atomic under the GIL
    start_line = threading.Barrier(clients + 1)
    deadline = [0.0]
    stop = stop or threading.Event()

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        start_line.wait()
        try:
            while time.perf_counter() < deadline[0] and not stop.is_set() and next(budget, None) is not None:
                began = time.perf_counter()
                try:
                    conn.request(endpoint.method, endpoint.path, body=endpoint.body or None, headers=endpoint.headers)
                    response = conn.getresponse()
                    response.read()
                    status = response.status
                except (OSError, http.client.HTTPException):
                    status = None
                    conn.close()  # reconnects on the next request
                latencies[k].append(time.perf_counter() - began)
                statuses[k][str(status) if status else "error"] += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    start_line.wait()
    for thread in threads:
        thread.join(timeout=seconds + 30)
    wall = time.perf_counter() - began
    every = np.array([x for per_client in latencies for x in per_client]) * 1000
    counts = sum(statuses, Counter())
    return {"endpoint": endpoint.name, "clients": clients, "requests": int(every.size),
            "errors": int(every.size) - counts["200"], "server_errors": sum(n for s, n in counts.items() if s[0] == "5"),
            "statuses": dict(sorted(counts.items())), "seconds": round(wall, 3),
            "throughput_rps": every.size / wall, **summarise(every, "client_")}


def summarise(ms: np.ndarray, prefix: str) -> dict:
    if ms.size == 0:
        return {f"{prefix}{k}": None for k in ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "max_ms")}
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return {f"{prefix}p50_ms": float(p50), f"{prefix}p90_ms": float(p90), f"{prefix}p99_ms": float(p99),
            f"{prefix}mean_ms": float(ms.mean()), f"{prefix}max_ms": float(ms.max())}


def server_times(access_log: Path, offset: int, path: str | None = None) -> tuple[dict, int]:
    """Server-side request times (ms) of the access-log lines written since ``offset`` (only ``path``'s, when
    given); and the new offset."""
    with open(access_log, "rb") as handle:
        handle.seek(offset)
        lines = handle.read().decode(errors="replace").splitlines()
        end = handle.tell()
    rows = [line.split() for line in lines]
    ms = np.array([int(parts[1]) / 1000 for parts in rows
                   if len(parts) >= 2 and (path is None or (len(parts) >= 3 and parts[2].rstrip("/") == path))])
    return summarise(ms, "server_"), end


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far, all their threads included; 0 for one gone."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / os.sysconf("SC_CLK_TCK")


def measure_row(site: Site, endpoint: Endpoint, clients: int, seconds: float, max_requests: int, offset: int, *,
                path: str | None = None, stop: threading.Event | None = None) -> tuple[dict, int]:
    """run_clients, then the server's times from the access log past ``offset`` (only ``path``'s, when given),
    and the CPU time per request that gunicorn (master and workers) and this process's clients spent: the row,
    and the new offset."""
    server_pids = [site.gunicorn.pid, *children(site.gunicorn.pid)]
    server_cpu, client_cpu = cpu_seconds(server_pids), time.process_time()
    row = run_clients(site.port, endpoint, clients, seconds, max_requests, stop=stop)
    server_cpu, client_cpu = cpu_seconds(server_pids) - server_cpu, time.process_time() - client_cpu
    time.sleep(0.3)  # gunicorn writes the access line just after the response
    server, offset = server_times(site.access_log, offset, path)
    per_request = 1000 / max(row["requests"], 1)
    return {**row, **server, "server_cpu_ms_per_request": server_cpu * per_request,
            "client_cpu_ms_per_request": client_cpu * per_request}, offset


def ratios_to_health(rows: list[dict]) -> list[dict]:
    """Each other endpoint's row against the health row at the same concurrency (both with requests): its
    endpoint, clients, and p50, p99 and throughput as multiples of health's."""
    found = []
    for r in rows:
        base = next((b for b in rows if b["endpoint"] == HEALTH.name and b["clients"] == r["clients"]), None)
        if r["endpoint"] == HEALTH.name or base is None or not base["requests"] or not r["requests"]:
            continue
        found.append({"endpoint": r["endpoint"], "clients": r["clients"],
                      "p50_ratio": r["client_p50_ms"] / base["client_p50_ms"],
                      "p99_ratio": r["client_p99_ms"] / base["client_p99_ms"],
                      "throughput_ratio": r["throughput_rps"] / base["throughput_rps"]})
    return found


def server_argument_parser(description: str, *, clients: list[int]) -> argparse.ArgumentParser:
    """A parser with the options every benchmark of a throwaway site takes: the checkpoint to serve, gunicorn's
    workers and threads, and the concurrency levels (comma-separated) to measure at."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--clients", type=lambda s: [int(x) for x in s.split(",")], default=clients,
                        help=f"comma-separated concurrency levels (default {','.join(map(str, clients))})")
    return parser


def pass_fail(ok: bool | None) -> str:
    return "not measured" if ok is None else ("PASS" if ok else "FAIL")


def fmt(value, spec: str) -> str:
    """``value`` formatted by ``spec``, or "-" for None (not measured)."""
    return "-" if value is None else format(value, spec)


def warm_up(port: int, endpoints: list[Endpoint], workers: int, threads: int) -> None:
    """Enough parallel requests that every worker has loaded the model and every thread has run once."""
    for endpoint in endpoints:
        run_clients(port, endpoint, clients=min(8, workers * threads), seconds=2.0, max_requests=40 * workers)


# --- processes ---------------------------------------------------------------------------------------------

def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (gunicorn's master: its workers)."""
    try:
        found = []
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(x) for x in (task / "children").read_text().split()]
        return sorted(set(found))
    except OSError:
        return []


def process_memory(pid: int) -> dict | None:
    """VmRSS, VmHWM (peak resident), RssAnon (private heap) and RssFile (mapped files such as libtorch, shared
    with other processes) of ``pid`` in MiB from /proc/<pid>/status; None once it has gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    try:
        return {key: int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM", "RssAnon", "RssFile")}
    except (KeyError, ValueError, IndexError):
        return None  # a zombie has no memory lines


def resident_by_file(pid: int) -> dict[str, float]:
    """Resident MiB of each file ``pid`` maps (libraries), from /proc/<pid>/smaps, largest first; {} once gone."""
    try:
        text = Path(f"/proc/{pid}/smaps").read_text()
    except OSError:
        return {}
    found: Counter = Counter()
    mapping = None
    for line in text.splitlines():
        head = re.match(r"[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(/\S*)?", line)
        if head:
            mapping = head.group(1)
        elif mapping and line.startswith("Rss:"):
            found[mapping] += int(line.split()[1]) / 1024
    return dict(found.most_common())


# --- logs --------------------------------------------------------------------------------------------------

def scan_log(path: Path) -> dict:
    """A log's line count, the LOG_PATTERNS found in it (counted), its first 30 notable lines and its last 15."""
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    counts = {key: sum(1 for line in lines if re.search(pattern, line)) for key, pattern in LOG_PATTERNS.items()}
    notable = [line for line in lines if re.search(NOTABLE_LINE, line)]
    return {"lines": len(lines), "counts": {k: v for k, v in counts.items() if v}, "notable": notable[:30],
            "tail": lines[-15:]}


def scan_logs(tmp: Path) -> dict:
    """scan_log of gunicorn's log (with Django's) and the training worker's."""
    return {name: scan_log(tmp / name) for name in ("gunicorn.log", "training_worker.log")}
