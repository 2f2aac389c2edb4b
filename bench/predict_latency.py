"""Latency benchmark: /api/predict against the trivial /api/health view of the same site under gunicorn.

    .venv/bin/python -m bench.predict_latency [--seconds 10] [--workers 2] [--threads 4]

Sets up a throwaway site (temp SQLite database, model and media folders, DEBUG off), migrates it (which
registers the shipped base model) and activates ``--checkpoint``, starts gunicorn on 127.0.0.1 at a free port,
warms every worker up, then, for each endpoint and 1 and 8 concurrent clients, runs keep-alive clients (one
http.client connection per thread) for ``--seconds`` or ``--max-requests``, whichever ends first.

Latency is measured twice: at the client (time.perf_counter around request + full response read, on
loopback), which the targets are judged on, and inside gunicorn (its access log's %(D)s, request time in
microseconds). Targets: predict p50 <= 5 ms at 1 client; predict throughput >= 50 % of the trivial view's at
8 clients. Prints a table and PASS/FAIL, writes bench/results/predict_latency.json. gunicorn is stopped by PID
and the temp folder deleted on every exit path, Ctrl-C and SIGTERM included. Exits 0 unless the site
cannot start.
"""

import argparse
import base64
import contextlib
import datetime
import http.client
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.canvas_set import load_mnist_test, render_canvas_sample
from bench.robustness import code_state
from recognizer.ml.checkpoints import file_sha256

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
TARGET_P50_MS = 5.0
TARGET_THROUGHPUT_RATIO = 0.5
CANVAS_DIGIT = 0  # MNIST test image #0, a 7
BOUNDARY = "----mnistsite-bench-boundary"

ACTIVATE = """
import os, shutil
from pathlib import Path
from django.conf import settings
from recognizer.ml.checkpoints import file_sha256
from recognizer.ml.network import ARCHITECTURE
from recognizer.models import ModelVersion
from recognizer.services import model_version_activate
source = Path(os.environ["BENCH_CHECKPOINT"])
sha = file_sha256(source)
version = ModelVersion.objects.filter(weights_sha256=sha).first()
if version is None:
    name = f"bench-{sha[:12]}.pt"
    settings.MODEL_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, settings.MODEL_DIR / name)
    version = ModelVersion.objects.create(weights_name=name, weights_sha256=sha, architecture=ARCHITECTURE,
                                          notes="benchmark checkpoint")
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


def canvas_png() -> tuple[bytes, int]:
    """A 280x280 transparent RGBA canvas with one MNIST test digit drawn on it, and the digit's label."""
    images, labels = load_mnist_test()
    data = render_canvas_sample(images[CANVAS_DIGIT], "canvas-rgba-png", np.random.default_rng(0), size=(280, 280))
    return data, int(labels[CANVAS_DIGIT])


def endpoints(png: bytes, *, data_url: bool) -> list[Endpoint]:
    multipart = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"canvas.png\"\r\n"
                 f"Content-Type: image/png\r\n\r\n").encode() + png + f"\r\n--{BOUNDARY}--\r\n".encode()
    found = [
        Endpoint("health (trivial)", "GET", "/api/health", b"", {}),
        Endpoint("predict multipart", "POST", "/api/predict",
                 multipart, {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}),
    ]
    if data_url:
        body = json.dumps({"image": "data:image/png;base64," + base64.b64encode(png).decode()}).encode()
        found.append(Endpoint("predict json data-url", "POST", "/api/predict", body,
                              {"Content-Type": "application/json"}))
    return found


# --- the throwaway site ------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def site_environment(tmp: Path, checkpoint: Path) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mnistsite.settings",
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
        "MODEL_DIR": str(tmp / "models"),
        "MEDIA_ROOT": str(tmp / "media"),
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "BENCH_CHECKPOINT": str(checkpoint.resolve()),
    }


def prepare_site(env: dict) -> str:
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    done = subprocess.run([*manage, "shell", "-v", "0", "-c", ACTIVATE], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True)
    return done.stdout.strip()


def start_gunicorn(env: dict, tmp: Path, port: int, workers: int, threads: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "gunicorn", "mnistsite.wsgi:application", "--bind", f"127.0.0.1:{port}",
               "--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread",
               "--access-logfile", str(tmp / "access.log"), "--access-logformat", "%(s)s %(D)s %(U)s",
               "--error-logfile", str(tmp / "gunicorn.log")]
    # Its own session: a Ctrl-C in this terminal reaches only us, and we stop it in order.
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_gunicorn(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # the master stops its workers gracefully
    try:
        process.wait(timeout=15)
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
            status, _ = request_once(port, Endpoint("health", "GET", "/api/health", b"", {}))
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer /api/health within {timeout:.0f} s")


def request_once(port: int, endpoint: Endpoint) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(endpoint.method, endpoint.path, body=endpoint.body or None, headers=endpoint.headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# --- measuring ---------------------------------------------------------------------------------------------

def run_clients(port: int, endpoint: Endpoint, clients: int, seconds: float, max_requests: int) -> dict:
    """``clients`` threads, each with one keep-alive connection, until ``seconds`` pass or ``max_requests``."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    budget = iter(range(max_requests))  # next() on a shared iterator is atomic under the GIL
    start_line = threading.Barrier(clients + 1)
    deadline = [0.0]

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        start_line.wait()
        try:
            while time.perf_counter() < deadline[0] and next(budget, None) is not None:
                began = time.perf_counter()
                try:
                    conn.request(endpoint.method, endpoint.path, body=endpoint.body or None, headers=endpoint.headers)
                    response = conn.getresponse()
                    response.read()
                    ok = response.status == 200
                except (OSError, http.client.HTTPException):
                    ok = False
                    conn.close()  # reconnects on the next request
                latencies[k].append(time.perf_counter() - began)
                errors[k] += not ok
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
    return {"endpoint": endpoint.name, "clients": clients, "requests": int(every.size), "errors": sum(errors),
            "seconds": round(wall, 3), "throughput_rps": every.size / wall, **summarise(every, "client_")}


def summarise(ms: np.ndarray, prefix: str) -> dict:
    if ms.size == 0:
        return {f"{prefix}{k}": None for k in ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "max_ms")}
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return {f"{prefix}p50_ms": float(p50), f"{prefix}p90_ms": float(p90), f"{prefix}p99_ms": float(p99),
            f"{prefix}mean_ms": float(ms.mean()), f"{prefix}max_ms": float(ms.max())}


def server_times(access_log: Path, offset: int) -> tuple[dict, int]:
    """Server-side request times (ms) of the access-log lines written since ``offset``; the new offset."""
    with open(access_log, "rb") as handle:
        handle.seek(offset)
        lines = handle.read().decode(errors="replace").splitlines()
        end = handle.tell()
    ms = np.array([int(parts[1]) / 1000 for parts in (line.split() for line in lines) if len(parts) >= 2])
    return summarise(ms, "server_"), end


def warm_up(port: int, endpoints_: list[Endpoint], workers: int, threads: int) -> None:
    """Enough parallel requests that every worker has loaded the model and every thread has run once."""
    for endpoint in endpoints_:
        run_clients(port, endpoint, clients=min(8, workers * threads), seconds=2.0, max_requests=40 * workers)


def measure(port: int, tmp: Path, endpoints_: list[Endpoint], args: argparse.Namespace) -> list[dict]:
    rows = []
    offset = (tmp / "access.log").stat().st_size
    for clients in args.clients:
        for endpoint in endpoints_:
            row = run_clients(port, endpoint, clients, args.seconds, args.max_requests)
            time.sleep(0.3)  # gunicorn writes the access line just after the response
            server, offset = server_times(tmp / "access.log", offset)
            rows.append({**row, **server})
            print(f"  measured {endpoint.name} x{clients}: {row['requests']} requests", flush=True)
    return rows


# --- report ------------------------------------------------------------------------------------------------

def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(rows: list[dict]) -> None:
    print(f"\n{'endpoint':<22} {'clients':>7} {'requests':>8} {'errors':>6} {'req/s':>8} "
          f"{'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'mean ms':>7} | {'srv p50':>7} {'srv p99':>7}")
    for r in rows:
        print(f"{r['endpoint']:<22} {r['clients']:>7} {r['requests']:>8} {r['errors']:>6} {r['throughput_rps']:>8.1f} "
              f"{_fmt(r['client_p50_ms'], '7.2f')} {_fmt(r['client_p90_ms'], '7.2f')} "
              f"{_fmt(r['client_p99_ms'], '7.2f')} {_fmt(r['client_mean_ms'], '7.2f')} | "
              f"{_fmt(r['server_p50_ms'], '7.2f')} {_fmt(r['server_p99_ms'], '7.2f')}")
    print("(p50/p90/p99/mean: at the client, request sent to response read, loopback, keep-alive; "
          "srv: gunicorn's own request time, %(D)s)")


def ratios(rows: list[dict], trivial: str) -> list[dict]:
    found = []
    for r in rows:
        if r["endpoint"] == trivial:
            continue
        base = next(b for b in rows if b["endpoint"] == trivial and b["clients"] == r["clients"])
        found.append({"endpoint": r["endpoint"], "clients": r["clients"],
                      "p50_ratio": r["client_p50_ms"] / base["client_p50_ms"],
                      "p99_ratio": r["client_p99_ms"] / base["client_p99_ms"],
                      "throughput_ratio": r["throughput_rps"] / base["throughput_rps"]})
    print(f"\n{'ratio vs ' + trivial:<40} {'clients':>7} {'p50 x':>7} {'p99 x':>7} {'throughput':>10}")
    for q in found:
        print(f"{q['endpoint']:<40} {q['clients']:>7} {q['p50_ratio']:>7.2f} {q['p99_ratio']:>7.2f} "
              f"{q['throughput_ratio']:>10.1%}")
    return found


def judge(rows: list[dict], found: list[dict], predict: str) -> dict:
    one = next((r for r in rows if r["endpoint"] == predict and r["clients"] == 1), None)
    eight = next((q for q in found if q["endpoint"] == predict and q["clients"] == 8), None)
    errors = sum(r["errors"] for r in rows)
    checks = {
        "predict_p50_ms_at_1_client": None if one is None else one["client_p50_ms"],
        "predict_p50_met": None if one is None else bool(one["client_p50_ms"] <= TARGET_P50_MS),
        "throughput_ratio_at_8_clients": None if eight is None else eight["throughput_ratio"],
        "throughput_ratio_met": None if eight is None else bool(eight["throughput_ratio"] >= TARGET_THROUGHPUT_RATIO),
        "errors": errors,
    }
    verdict = lambda ok: "not measured" if ok is None else ("PASS" if ok else "FAIL")  # noqa: E731
    print(f"\ntarget predict p50 <= {TARGET_P50_MS:.0f} ms at 1 client: {verdict(checks['predict_p50_met'])} "
          f"({_fmt(checks['predict_p50_ms_at_1_client'], '.2f')} ms)")
    print(f"target predict throughput >= {TARGET_THROUGHPUT_RATIO:.0%} of the trivial view's at 8 clients: "
          f"{verdict(checks['throughput_ratio_met'])} ({_fmt(checks['throughput_ratio_at_8_clients'], '.1%')})")
    if errors:
        print(f"WARNING: {errors} requests failed (non-200 or connection error)")
    checks["pass"] = bool(checks["predict_p50_met"] and checks["throughput_ratio_met"] and not errors)
    print(f"RESULT: {'PASS' if checks['pass'] else 'FAIL'}")
    return checks


def machine_info() -> dict:
    return {"platform": platform.platform(), "machine": platform.machine(), "python": platform.python_version(),
            "cpu_count": os.cpu_count(), "load_average": os.getloadavg(),
            "note": "the client threads and the gunicorn workers share these cores"}


# --- main --------------------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=Path("recognizer/weights/base.pt"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0, help="per endpoint and concurrency (default 10)")
    parser.add_argument("--max-requests", type=int, default=20000, help="per endpoint and concurrency")
    parser.add_argument("--clients", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8],
                        help="comma-separated concurrency levels (default 1,8)")
    parser.add_argument("--no-data-url", dest="data_url", action="store_false",
                        help="skip the third row, predict with a JSON data URL")
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt  # SIGTERM: unwind through the finally block that stops gunicorn


@contextlib.contextmanager
def running_site(args: argparse.Namespace) -> Iterator[tuple[int, Path]]:
    """A migrated throwaway site served by gunicorn; yields (port, temp folder). Always cleaned up."""
    tmp = Path(tempfile.mkdtemp(prefix="mnistsite-bench-"))
    process = None
    try:
        env = site_environment(tmp, args.checkpoint)
        print(prepare_site(env))
        port = free_port()
        process = start_gunicorn(env, tmp, port, args.workers, args.threads)
        print(f"gunicorn pid {process.pid} on 127.0.0.1:{port}: {args.workers} workers x {args.threads} threads")
        wait_until_healthy(process, port, tmp)
        yield port, tmp
    finally:
        if process is not None:
            stop_gunicorn(process)
        shutil.rmtree(tmp, ignore_errors=True)


def sanity_check(port: int, endpoint: Endpoint, label: int) -> dict:
    status, body = request_once(port, endpoint)
    answer = json.loads(body)
    if status != 200:
        raise RuntimeError(f"/api/predict answered {status}: {answer}")
    print(f"sanity check: predicted {answer['digit']} (label {label}), confidence {answer['confidence']:.3f}, "
          f"model version {answer['model_version']}")
    return answer


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.checkpoint.exists():
        print(f"no checkpoint at {args.checkpoint}; pass --checkpoint PATH", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    png, label = canvas_png()
    endpoints_ = endpoints(png, data_url=args.data_url)
    print(f"canvas: 280x280 RGBA PNG, {len(png)} bytes, digit {label}. NOTE: this machine has {os.cpu_count()} "
          f"cores, shared by the clients and the server (load average {os.getloadavg()[0]:.2f} now).")
    machine = machine_info()
    with running_site(args) as (port, tmp):
        answer = sanity_check(port, endpoints_[1], label)
        warm_up(port, endpoints_, args.workers, args.threads)
        rows = measure(port, tmp, endpoints_, args)

    print_table(rows)
    found = ratios(rows, endpoints_[0].name)
    checks = judge(rows, found, endpoints_[1].name)
    result = {
        "benchmark": "predict-latency", "timestamp": datetime.datetime.now(datetime.UTC).isoformat(),
        "checkpoint": {"path": str(args.checkpoint), "sha256": file_sha256(args.checkpoint)},
        "canvas": {"size": [280, 280], "mode": "RGBA", "bytes": len(png), "label": label,
                   "predicted": answer["digit"]},
        "gunicorn": {"workers": args.workers, "threads": args.threads, "worker_class": "gthread"},
        "client": {"seconds": args.seconds, "max_requests": args.max_requests, "concurrency": args.clients,
                   "connection": "one keep-alive http.client connection per thread"},
        "targets": {"predict_p50_ms_at_1_client": TARGET_P50_MS,
                    "throughput_ratio_at_8_clients": TARGET_THROUGHPUT_RATIO},
        "rows": rows, "ratios": found, "checks": checks,
        "machine": {**machine, "load_average_after": os.getloadavg()}, "code": code_state(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "predict_latency.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
