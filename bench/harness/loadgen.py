"""The load generator: client threads posting one Endpoint for a time or a number of requests, a row of what
clients and server saw (latency percentiles, throughput, CPU per request), and the steps and options around it
(warm-up, a sanity check, ratios to the health endpoint, the command-line options of site benchmarks)."""

import argparse
import http.client
import json
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np

from bench.harness.client import HEALTH, Endpoint, request_once
from bench.harness.monitor import children, cpu_seconds, server_times
from bench.harness.processes import DEFAULT_CHECKPOINT, Site
from bench.harness.results import summarise


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


def add_posting_options(parser: argparse.ArgumentParser) -> None:
    """The options of benches that post a set of drawings to a site of their own."""
    parser.add_argument("--clients", type=int, default=4, help="client threads posting at once (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--server-threads", type=int, default=2, help="threads per gunicorn worker (default 2)")
    parser.add_argument("--transport", choices=("page", "json", "multipart"), default="page",
                        help="page: a canvas PNG as a JSON data URL and other encodings as an uploaded file, as "
                             "the page sends them; json or multipart: everything that way")


def warm_up(port: int, endpoints: list[Endpoint], workers: int, threads: int) -> None:
    """Enough parallel requests that every worker has loaded the model and every thread has run once."""
    for endpoint in endpoints:
        run_clients(port, endpoint, clients=min(8, workers * threads), seconds=2.0, max_requests=40 * workers)


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
