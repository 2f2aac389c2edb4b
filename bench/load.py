"""Load and memory benchmark: the site under gunicorn with many clients, sample saving and a fine-tune at once.

    .venv/bin/python -m bench.load [--quick] [--seconds 60] [--mixed-cap 300]

Sets up a throwaway site (bench/harness: temp SQLite database, model and media folders, DEBUG off, rate limit
off) and starts gunicorn (2 workers x 4 threads, --timeout 60, as bin/run) and ``manage.py training_worker``
beside it, both on 127.0.0.1. Then:

1. Predict under load: 8 and 32 keep-alive clients POST a 280x280 canvas to /api/predict for ``--seconds``
   each (and GET /api/health for ``--health-seconds``, the floor). Errors: non-200 answers or connection errors.
2. Mixed load: one session saves ``--train-samples`` samples; 4 clients predict alone (baseline), then beside
   ``--sessions`` sessions that each save varied drawings (MNIST test digits, correct labels) with a pause; then
   that session queues a personal fine-tune (POST /api/train) and all of it goes on until the run ends or
   ``--mixed-cap`` seconds pass. Every sample acknowledged with a 201 is then looked up in the database, its
   label checked and both files found in MEDIA_ROOT.
3. Memory: VmRSS of the gunicorn master, each web worker (the master's children) and the training worker,
   every 0.5 s throughout, and VmHWM (peak resident); a web worker must stay under 1 GB.

Prints a table per phase and PASS/FAIL lines, writes bench/results/load.json. Servers are stopped by PID and
the temp folder deleted on every exit path, Ctrl-C and SIGTERM included. Exits 0 unless the site cannot start.
"""

import argparse
import datetime
import http.client
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np

from bench.harness.client import (
    HEALTH, MULTIPART_TYPE, Endpoint, Session, active_version, canvas_png, drawing_pool, predict_multipart,
)
from bench.harness.loadgen import measure_row, ratios_to_health, sanity_check, server_argument_parser, warm_up
from bench.harness.monitor import children, process_memory, scan_logs
from bench.harness.processes import (
    SITE_SETTINGS, checkpoint_found, manage_shell, running_site, start_training_worker, stop_process, unwind_on_sigterm,
)
from bench.harness.results import (
    RESULTS, ROOT, code_state, fmt, machine_info, pass_fail, run_figures, summarise, write_result,
)
from recognizer.ml.checkpoints import file_sha256

WEB_WORKER_LIMIT_MIB = 1e9 / 2**20  # 1 GB = 953.7 MiB
FINISHED = {"succeeded", "rejected", "failed"}

VERIFY = """
import json, os
from django.core.files.storage import default_storage
from recognizer.models import Sample
sent = {int(k): v for k, v in json.load(open(os.environ["BENCH_SAMPLES"])).items()}
ids, rows = sorted(sent), {}
for i in range(0, len(ids), 500):
    rows.update({s.pk: s for s in Sample.objects.filter(pk__in=ids[i:i + 500])})
def stored(name):
    try:
        return bool(name) and default_storage.size(name) > 0
    except OSError:
        return False
missing = [pk for pk in ids if pk not in rows]
wrong_label = [pk for pk, s in rows.items() if s.label != sent[pk]]
missing_files = [pk for pk, s in rows.items() if not (stored(s.drawing.name) and stored(s.digit.name))]
print(json.dumps({"acknowledged": len(ids), "found": len(rows), "missing": missing, "wrong_label": wrong_label,
                  "missing_files": missing_files, "rows_in_database": Sample.objects.count()}))
"""


# --- memory ------------------------------------------------------------------------------------------------

class MemorySampler(threading.Thread):
    """Every ``interval`` s: VmRSS/VmHWM of gunicorn's master, its workers and any process ``watch()``ed."""

    def __init__(self, master: int, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.master, self.interval, self.phase = master, interval, "setup"
        self.watched: dict[int, str] = {}
        self.seen: dict[int, dict] = {}
        self.halt = threading.Event()

    def watch(self, pid: int, role: str) -> None:
        self.watched[pid] = role

    def sample(self) -> None:
        roles = {self.master: "gunicorn master", **{pid: "web worker" for pid in children(self.master)},
                 **self.watched}
        for pid, role in roles.items():
            memory = process_memory(pid)
            if memory is None:
                continue
            row = self.seen.setdefault(pid, {"role": role, "pid": pid, "samples": 0, "max_rss_mib": 0.0,
                                             "hwm_mib": 0.0, "max_anon_mib": 0.0, "max_file_mib": 0.0,
                                             "rss_first_mib": memory["VmRSS"], "by_phase": {}})
            row["samples"] += 1
            row["rss_last_mib"] = memory["VmRSS"]
            for key, field in (("max_rss_mib", "VmRSS"), ("hwm_mib", "VmHWM"), ("max_anon_mib", "RssAnon"),
                               ("max_file_mib", "RssFile")):
                row[key] = max(row[key], memory[field])
            row["by_phase"][self.phase] = max(row["by_phase"].get(self.phase, 0.0), memory["VmRSS"])

    def run(self) -> None:
        while not self.halt.wait(self.interval):
            self.sample()

    def finish(self) -> list[dict]:
        self.halt.set()
        self.join(timeout=5)
        self.sample()  # the last word: VmHWM just before the servers stop
        return sorted(self.seen.values(), key=lambda r: (r["role"], r["pid"]))


# --- phase 1: predict under load ---------------------------------------------------------------------------

def predict_under_load(site, endpoints: list[tuple[Endpoint, float]], args, memory: MemorySampler) -> list[dict]:
    rows = []
    offset = site.access_log.stat().st_size
    for clients in args.clients:
        memory.phase = f"predict x{clients}"
        for endpoint, seconds in endpoints:
            row, offset = measure_row(site, endpoint, clients, seconds, args.max_requests, offset)
            rows.append(row)
            print(f"  {endpoint.name} x{clients}: {row['requests']} requests, {row['errors']} errors", flush=True)
    return rows


# --- phase 2: mixed load -----------------------------------------------------------------------------------

class Savers:
    """``sessions`` threads, each its own browser session, saving samples from the pool with a pause between."""

    def __init__(self, port: int, pool: list[tuple[bytes, int]], sessions: int, pause: float) -> None:
        self.port, self.pool, self.pause = port, pool, pause
        self.results: list[dict] = []  # list.append is atomic under the GIL
        self.phase = "savers"
        self.halt = threading.Event()
        self.threads = [threading.Thread(target=self._save, args=(k,), daemon=True) for k in range(sessions)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.halt.set()
        for thread in self.threads:
            thread.join(timeout=40)

    def _save(self, k: int) -> None:
        session = Session(self.port)
        try:
            self._call(session, "GET", "/", b"", None)  # the CSRF cookie
            for i in itertools.count():
                if self.halt.is_set():
                    break
                body, label = self.pool[(k * 37 + i) % len(self.pool)]
                record, answer = self._call(session, "POST", "/api/samples", body, label)
                if record["status"] == 201:
                    record["id"] = json.loads(answer)["id"]
                self.halt.wait(self.pause)
        finally:
            session.close()

    def _call(self, session: Session, method: str, path: str, body: bytes, label: int | None) -> tuple[dict, bytes]:
        began = time.perf_counter()
        try:
            status, answer = session.request(method, path, body, {"Content-Type": MULTIPART_TYPE} if body else {})
        except (OSError, http.client.HTTPException):
            status, answer = None, b""
        record = {"phase": self.phase, "path": path, "status": status, "label": label,
                  "ms": (time.perf_counter() - began) * 1000}
        self.results.append(record)
        return record, answer

    def summary(self) -> dict:
        saves = [r for r in self.results if r["path"] == "/api/samples"]
        statuses = Counter(str(r["status"] or "error") for r in self.results)
        return {"sessions": len(self.threads), "pause_s": self.pause, "requests": len(self.results),
                "saves_attempted": len(saves), "statuses": dict(sorted(statuses.items())),
                "statuses_by_phase": {phase: dict(Counter(str(r["status"] or "error") for r in saves
                                                          if r["phase"] == phase)) for phase in ("savers", "training")},
                "server_errors": sum(n for s, n in statuses.items() if s[0] == "5"),
                "connection_errors": statuses.get("error", 0),
                **summarise(np.array([r["ms"] for r in saves]), "save_")}

    def acknowledged(self) -> dict[int, int]:
        # A 201 for one request and the id recorded in the same thread: read after stop(), so complete.
        return {r["id"]: r["label"] for r in self.results if r["status"] == 201 and "id" in r}


def trainer_session(port: int, pool: list[tuple[bytes, int]], count: int) -> tuple[Session, dict]:
    """A session that keeps ``count`` samples, enough to fine-tune on."""
    trainer = Session(port)
    trainer.request("GET", "/")
    statuses = Counter()
    for body, _ in pool[:count]:
        status, _ = trainer.request("POST", "/api/samples", body, {"Content-Type": MULTIPART_TYPE})
        statuses[str(status)] += 1
    return trainer, {"samples": count, "statuses": dict(statuses)}


def follow_training(trainer: Session, cap: float) -> dict:
    """POST /api/train, then poll GET /api/train/<id> each second until the run ends or ``cap`` s pass."""
    began = time.monotonic()
    try:
        status, answer = trainer.request("POST", "/api/train")
    except (OSError, http.client.HTTPException) as exc:
        status, answer = None, repr(exc).encode()
    if status != 202:
        listed = trainer.request("GET", "/api/samples")  # what this session keeps, for the report
        return {"outcome": f"refused ({status})", "answer": answer.decode(errors="replace")[:500], "polls": {},
                "session_samples": json.loads(listed[1]).get("total") if listed[0] == 200 else listed[0]}
    job = json.loads(answer)["job"]
    polls, started, run = Counter(), None, {}
    while time.monotonic() - began < cap:
        time.sleep(1.0)
        try:
            status, answer = trainer.request("GET", f"/api/train/{job}")
        except (OSError, http.client.HTTPException):
            status = None
        polls[str(status or "error")] += 1
        if status == 200:
            run = json.loads(answer)
            if started is None and run["status"] != "queued":
                started = time.monotonic() - began
            if run["status"] in FINISHED:
                break
    ended = time.monotonic() - began
    finished = run.get("status") in FINISHED
    return {"job": job, "outcome": run.get("status", "unknown") if finished else f"unfinished after {cap:.0f} s",
            "finished": finished, "seconds_to_start": started, "seconds": ended, "polls": dict(polls),
            "progress": run.get("progress"), "epochs": run.get("epochs"), "samples": run.get("samples"),
            "history": run.get("history"), **run_figures(run.get("metrics") or {}),
            "model_version": run.get("model_version"), "error": run.get("error")}


def predict_phase(site, endpoint: Endpoint, clients: int, seconds: float, args, offset: int,
                  stop: threading.Event | None = None) -> tuple[dict, int]:
    return measure_row(site, endpoint, clients, seconds, args.max_requests, offset, path="/api/predict", stop=stop)


def mixed_load(site, endpoint: Endpoint, pool: list[tuple[bytes, int]], args, memory: MemorySampler) -> dict:
    trainer, trainer_info = trainer_session(site.port, pool, args.train_samples)
    savers = Savers(site.port, pool, args.sessions, args.save_pause)
    offset = site.access_log.stat().st_size
    phases = {}
    memory.phase = "mixed: predict only"
    phases["predict only"], offset = predict_phase(site, endpoint, args.predictors, args.baseline_seconds, args, offset)
    print(f"  predict only: {phases['predict only']['requests']} requests", flush=True)
    memory.phase = "mixed: + savers"
    savers.start()
    try:
        phases["predict + savers"], offset = predict_phase(site, endpoint, args.predictors, args.baseline_seconds,
                                                           args, offset)
        print(f"  predict + {args.sessions} savers: {phases['predict + savers']['requests']} requests", flush=True)
        memory.phase, savers.phase = "mixed: + savers + fine-tune", "training"
        stop, held = threading.Event(), {}
        predictors = threading.Thread(target=lambda: held.update(
            row=predict_phase(site, endpoint, args.predictors, args.mixed_cap + 5, args, offset, stop)[0]), daemon=True)
        predictors.start()
        try:
            training = follow_training(trainer, args.mixed_cap)
        finally:
            stop.set()
            predictors.join(timeout=60)
        phases["predict + savers + fine-tune"] = held.get("row")
        print(f"  fine-tune {training['outcome']} after {training.get('seconds', 0):.0f} s", flush=True)
    finally:
        savers.stop()
        trainer.close()
    memory.phase = "verify"
    acknowledged = savers.acknowledged()
    verified = verify_samples(site, acknowledged)
    # Rows no 201 vouched for: saved, but the client saw an error instead.
    verified["saved_without_201"] = verified["rows_in_database"] - verified["found"] - trainer_info["statuses"].get(
        "201", 0)
    model_after = active_version(site.port, endpoint)
    return {"trainer": trainer_info, "phases": phases, "savers": savers.summary(), "training": training,
            "verification": verified, "model_version_after": model_after}


def verify_samples(site, acknowledged: dict[int, int]) -> dict:
    path = site.tmp / "acknowledged.json"
    path.write_text(json.dumps({str(k): v for k, v in acknowledged.items()}))
    found = json.loads(manage_shell({**site.env, "BENCH_SAMPLES": str(path)}, VERIFY).splitlines()[-1])
    found["lost"] = len(found["missing"]) + len(found["missing_files"]) + len(found["wrong_label"])
    return found


# --- report ------------------------------------------------------------------------------------------------

def print_requests(title: str, rows: list[tuple[str, dict]]) -> None:
    print(f"\n{title}\n{'':<30} {'clients':>7} {'s':>5} {'requests':>8} {'errors':>6} {'5xx':>4} {'req/s':>8} "
          f"{'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>8} {'max ms':>8} | {'srv p50':>7} {'srv p99':>7}")
    for name, r in rows:
        if r is None:
            print(f"{name:<30} (not measured)")
            continue
        print(f"{name:<30} {r['clients']:>7} {r['seconds']:>5.0f} {r['requests']:>8} {r['errors']:>6} "
              f"{r['server_errors']:>4} {r['throughput_rps']:>8.1f} {fmt(r['client_p50_ms'], '7.2f')} "
              f"{fmt(r['client_p90_ms'], '7.2f')} {fmt(r['client_p99_ms'], '8.2f')} "
              f"{fmt(r['client_max_ms'], '8.1f')} | {fmt(r['server_p50_ms'], '7.2f')} "
              f"{fmt(r['server_p99_ms'], '7.2f')}")


def predict_ratios(rows: list[dict], predict: str) -> list[dict]:
    found = []
    for q in ratios_to_health(rows):
        if q["endpoint"] != predict:
            continue
        found.append({key: q[key] for key in ("clients", "throughput_ratio", "p50_ratio", "p99_ratio")})
        print(f"  predict vs health at {q['clients']} clients: throughput {found[-1]['throughput_ratio']:.1%}, "
              f"p50 x{found[-1]['p50_ratio']:.1f}, p99 x{found[-1]['p99_ratio']:.1f}")
    return found


def print_mixed(mixed: dict) -> None:
    print_requests(f"MIXED LOAD: predictions (the same {next(iter(mixed['phases'].values()))['clients']} clients "
                   "in each phase)", list(mixed["phases"].items()))
    sv, tr, ve = mixed["savers"], mixed["training"], mixed["verification"]
    print(f"\nsample savers: {sv['sessions']} sessions, pause {sv['pause_s']} s: {sv['saves_attempted']} saves, "
          f"statuses {sv['statuses']} (by phase {sv['statuses_by_phase']}); save p50 {fmt(sv['save_p50_ms'], '.1f')} "
          f"ms, p99 {fmt(sv['save_p99_ms'], '.1f')} ms, max {fmt(sv['save_max_ms'], '.1f')} ms")
    print(f"fine-tune: job {tr.get('job')}, outcome {tr['outcome']}, {fmt(tr.get('seconds'), '.1f')} s from queueing "
          f"({fmt(tr.get('seconds_to_start'), '.1f')} s queued), {tr.get('epochs')} epochs on {tr.get('samples')} "
          f"samples, MNIST validation {tr.get('mnist_validation')}, held out {tr.get('held_out')}, stages "
          f"{tr.get('stage_seconds')}, gate: {tr.get('gate')}; polls {tr.get('polls')}"
          + (f"; error: {tr['error']}" if tr.get("error") else "")
          + (f"; answer: {tr['answer']} (the session lists {tr.get('session_samples')} samples)" if "answer" in tr
             else ""))
    print(f"acknowledged samples (201): {ve['acknowledged']}, found in the database: {ve['found']}, missing: "
          f"{len(ve['missing'])}, files missing: {len(ve['missing_files'])}, wrong label: {len(ve['wrong_label'])} "
          f"({ve['rows_in_database']} sample rows in all: {mixed['trainer']['samples']} the trainer's, "
          f"{ve['saved_without_201']} saved without a 201 reaching the client)")
    print(f"model version answering predictions afterwards: {mixed['model_version_after']}")
    alone, training = mixed["phases"]["predict only"], mixed["phases"]["predict + savers + fine-tune"]
    if alone and training and alone["client_p99_ms"] and training["client_p99_ms"]:
        print(f"prediction p99: {alone['client_p99_ms']:.1f} ms without training, {training['client_p99_ms']:.1f} ms "
              f"during the fine-tune with the savers (x{training['client_p99_ms'] / alone['client_p99_ms']:.1f}); "
              f"p50 {alone['client_p50_ms']:.1f} -> {training['client_p50_ms']:.1f} ms")


def print_memory(processes: list[dict]) -> None:
    print(f"\nMEMORY (MiB, /proc/<pid>/status, sampled every 0.5 s)\n{'process':<18} {'pid':>7} {'samples':>7} "
          f"{'first RSS':>9} {'max RSS':>8} {'VmHWM':>8} {'max anon':>8} {'max file':>8}  max RSS in phase")
    for p in processes:
        phase = max(p["by_phase"], key=p["by_phase"].get)
        print(f"{p['role']:<18} {p['pid']:>7} {p['samples']:>7} {p['rss_first_mib']:>9.1f} {p['max_rss_mib']:>8.1f} "
              f"{p['hwm_mib']:>8.1f} {p['max_anon_mib']:>8.1f} {p['max_file_mib']:>8.1f}  {phase}")
    print("(RSS = anon + file (+ shmem); file pages, mostly libtorch, are shared between processes; "
          "the 1 GB limit is judged on VmRSS/VmHWM)")


def judge(rows: list[dict], mixed: dict, processes: list[dict], predict: str, workers: int) -> dict:
    checks = {}
    print()
    for r in (r for r in rows if r["endpoint"] == predict):
        ok = r["errors"] == 0 and r["requests"] > 0
        checks[f"predict_{r['clients']}_clients_zero_errors"] = ok
        print(f"{pass_fail(ok)}: predict at {r['clients']} clients: {r['errors']} errors ({r['server_errors']} 5xx) "
              f"in {r['requests']} requests")
    phases = [p for p in mixed["phases"].values() if p is not None]
    five = (sum(p["server_errors"] for p in phases) + mixed["savers"]["server_errors"]
            + sum(n for s, n in mixed["training"].get("polls", {}).items() if s[0] == "5")
            + sum(n for s, n in mixed["trainer"]["statuses"].items() if s[0] == "5"))
    checks["mixed_no_5xx"] = five == 0
    print(f"{pass_fail(five == 0)}: mixed load: {five} 5xx answers")
    ve = mixed["verification"]
    checks["mixed_no_lost_sample"] = ve["lost"] == 0 and ve["acknowledged"] > 0
    print(f"{pass_fail(checks['mixed_no_lost_sample'])}: mixed load: {ve['lost']} of {ve['acknowledged']} acknowledged "
          "samples missing, without their files or with another label")
    web = [p for p in processes if p["role"] == "web worker"]
    peak = max((max(p["max_rss_mib"], p["hwm_mib"]) for p in web), default=None)
    checks["web_worker_peak_mib"] = peak
    checks["web_worker_under_1gb"] = peak is not None and peak < WEB_WORKER_LIMIT_MIB
    print(f"{pass_fail(checks['web_worker_under_1gb'])}: web worker resident memory peak {fmt(peak, '.1f')} MiB "
          f"(limit 1 GB = {WEB_WORKER_LIMIT_MIB:.1f} MiB)")
    if len(web) > workers:
        print(f"NOTE: {len(web)} web worker processes seen for {workers} workers: gunicorn replaced some")
    if not mixed["training"].get("finished") or mixed["training"]["outcome"] == "failed":
        print(f"NOTE: the fine-tune did not succeed or get rejected by the gate: {mixed['training']['outcome']}")
    checks["pass"] = all(v for k, v in checks.items() if isinstance(v, bool))
    print(f"RESULT: {pass_fail(checks['pass'])}")
    return checks


def print_logs(logs: dict) -> None:
    print()
    for name, found in logs.items():
        print(f"log {name}: {found['lines']} lines, {found['counts'] or 'nothing notable'}")
        for line in found["notable"][:10]:
            print(f"    {line[:200]}")


# --- main --------------------------------------------------------------------------------------------------

# The full run fine-tunes with the site's own defaults (8 epochs, 4000 replayed MNIST digits, 10 000 validation
# digits): a personal run trains the classifier alone and takes seconds.
QUICK = {"seconds": 10, "health_seconds": 5, "baseline_seconds": 5, "mixed_cap": 120, "fine_tune_epochs": 1,
         "fine_tune_replay": 500, "fine_tune_validation_limit": 2000}
FULL = {"seconds": 60, "health_seconds": 10, "baseline_seconds": 20, "mixed_cap": 300, "fine_tune_epochs": 8,
        "fine_tune_replay": 4000, "fine_tune_validation_limit": 10000}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = server_argument_parser(__doc__.splitlines()[0], clients=[8, 32])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 10 s phases, a tiny fine-tune")
    parser.add_argument("--timeout", type=int, default=60, help="gunicorn's worker timeout (bin/run's)")
    parser.add_argument("--seconds", type=float, help="predict, per concurrency (default 60; quick 10)")
    parser.add_argument("--health-seconds", type=float, help="health, per concurrency (default 10; quick 5)")
    parser.add_argument("--max-requests", type=int, default=100000, help="per row, a bound")
    parser.add_argument("--sessions", type=int, default=20, help="sessions saving samples in the mixed load")
    parser.add_argument("--save-pause", type=float, default=0.5, help="seconds each session waits between saves")
    parser.add_argument("--predictors", type=int, default=4, help="predict clients in the mixed load")
    parser.add_argument("--train-samples", type=int, default=30, help="samples the training session saves first")
    parser.add_argument("--baseline-seconds", type=float, help="each baseline phase (default 20; quick 5)")
    parser.add_argument("--mixed-cap", type=float, help="most seconds to wait for the fine-tune (default 300)")
    parser.add_argument("--fine-tune-epochs", type=int, help="FINE_TUNE_EPOCHS (default 8; quick 1)")
    parser.add_argument("--fine-tune-replay", type=int, help="FINE_TUNE_REPLAY (default 4000; quick 500)")
    parser.add_argument("--fine-tune-validation-limit", type=int,
                        help="FINE_TUNE_VALIDATION_LIMIT (default 10000; quick 2000)")
    parser.add_argument("--pool", type=int, default=200, help="distinct drawings the sessions save")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def measure(args: argparse.Namespace, env: dict[str, str], predict: Endpoint, label: int) -> dict:
    pool = drawing_pool(args.pool, args.seed)
    with running_site(args.checkpoint, args.workers, args.threads, timeout=args.timeout, extra_env=env) as site:
        memory = MemorySampler(site.gunicorn.pid)
        memory.start()
        worker = start_training_worker(site.env, site.tmp)
        memory.watch(worker.pid, "training worker")
        print(f"training worker pid {worker.pid}")
        try:
            sanity_check(site, predict, label)
            memory.phase = "warm-up"
            warm_up(site.port, [HEALTH, predict], args.workers, args.threads)
            print("PREDICT UNDER LOAD", flush=True)
            rows = predict_under_load(site, [(HEALTH, args.health_seconds), (predict, args.seconds)], args, memory)
            print("MIXED LOAD", flush=True)
            mixed = mixed_load(site, predict, pool, args, memory)
            worker_exit = worker.poll()
            logs = scan_logs(site.tmp)
            processes = memory.finish()
        finally:
            stop_process(worker, grace=5)
    return {"rows": rows, "mixed": mixed, "processes": processes, "logs": logs, "training_worker_exit": worker_exit}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not checkpoint_found(args.checkpoint):
        return 2
    unwind_on_sigterm()
    env = {"FINE_TUNE_EPOCHS": str(args.fine_tune_epochs), "FINE_TUNE_REPLAY": str(args.fine_tune_replay),
           "FINE_TUNE_VALIDATION_LIMIT": str(args.fine_tune_validation_limit)}
    png, label = canvas_png()
    predict = predict_multipart(png)
    machine = machine_info()
    print(f"{'QUICK smoke run' if args.quick else 'full run'}; the per-client rate limit is off "
          f"(RATE_LIMIT_ENABLED=false): every client is 127.0.0.1. This machine has {os.cpu_count()} cores shared by "
          f"the clients, gunicorn and the training worker (load average {os.getloadavg()[0]:.2f} now).")
    try:
        found = measure(args, env, predict, label)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        print(f"the site could not start or stopped answering: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: servers stopped, temp folder removed; nothing written", file=sys.stderr)
        return 130

    print_requests("PREDICT UNDER LOAD (client: request sent to response read, keep-alive; srv: gunicorn %(D)s)",
                   [(r["endpoint"], r) for r in found["rows"]])
    ratios = predict_ratios(found["rows"], predict.name)
    print_mixed(found["mixed"])
    print_memory(found["processes"])
    print_logs(found["logs"])
    checks = judge(found["rows"], found["mixed"], found["processes"], predict.name, args.workers)
    conf = ROOT / "gunicorn.conf.py"
    result = {
        "benchmark": "load", "timestamp": datetime.datetime.now(datetime.UTC).isoformat(), "quick": args.quick,
        "checkpoint": {"path": str(args.checkpoint), "sha256": file_sha256(args.checkpoint)},
        "gunicorn": {"workers": args.workers, "threads": args.threads, "timeout": args.timeout,
                     "worker_class": "gthread", "bind": "127.0.0.1",
                     "conf_file": {"path": str(conf), "sha256": file_sha256(conf)} if conf.exists() else None},
        "settings": {"site_env": {**SITE_SETTINGS, **env}, "clients": args.clients, "predict_seconds": args.seconds,
                     "health_seconds": args.health_seconds, "max_requests": args.max_requests,
                     "sessions": args.sessions, "save_pause_s": args.save_pause, "predictors": args.predictors,
                     "train_samples": args.train_samples, "baseline_seconds": args.baseline_seconds,
                     "mixed_cap_s": args.mixed_cap, "drawing_pool": args.pool, "seed": args.seed,
                     "connection": "one keep-alive http.client connection per client thread or session"},
        "predict": {"rows": found["rows"], "ratios": ratios}, "mixed": found["mixed"],
        "memory": {"processes": found["processes"], "web_worker_limit_mib": WEB_WORKER_LIMIT_MIB},
        "logs": found["logs"], "training_worker_exit": found["training_worker_exit"], "checks": checks,
        "machine": {**machine, "load_average_after": os.getloadavg()}, "code": code_state(),
    }
    write_result(args.out, "load.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
