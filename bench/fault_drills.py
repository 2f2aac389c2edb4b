"""Fault drills: kill a process of a running site on purpose and report what its clients and its data saw.

    .venv/bin/python -m bench.fault_drills web-worker        # SIGKILL one gunicorn worker under predict load
    .venv/bin/python -m bench.fault_drills training-worker   # SIGKILL the training worker mid-run

Both build a throwaway site with bench/harness (temp SQLite database, model and media folders, DEBUG off,
rate limit off) and stop every process by PID on every exit path.

web-worker: gunicorn with 2 workers x 4 threads (gthread); ``--clients`` threads POST a 280x280 canvas PNG to
/api/predict, 20 ms apart, each over its own keep-alive connection, renewed every 20 requests (as browsers
do) and reopened after a failure. Each connection is attributed to the worker holding its server end
(/proc/net/tcp and /proc/<pid>/fd). After ``--before`` seconds the busiest worker gets SIGKILL; the load goes
on for ``--after`` seconds and until the replacement worker has answered. Reports requests ok/failed before
the kill, between the kill and the replacement and after it, which worker answered, the old and new worker
PIDs, time to replacement and gunicorn's log errors.

training-worker: a real ``manage.py training_worker`` beside gunicorn; one session saves four drawings over
HTTP (CSRF cookie and header) and POSTs /api/train; once progress passes 0.15 the worker gets SIGKILL and is
restarted after TRAINING_RESTART_STALE_SECONDS. Reports that the run ended failed, that the active version
did not change (a prediction's model_version) and that a new run then completes.

Prints what happened and writes it under the drill's name into bench/results/fault_drills.json.
"""

import argparse
import datetime
import http.client
import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness.client import (
    MULTIPART_TYPE, Endpoint, Session, active_version, canvas_png, drawing_pool, predict_multipart,
)
from bench.harness.monitor import children, scan_log
from bench.harness.processes import (
    DEFAULT_CHECKPOINT, checkpoint_found, running_site, start_training_worker, stop_process, unwind_on_sigterm,
)
from bench.harness.results import RESULTS, code_state, machine_info, run_figures, write_result

WORKERS, THREADS = 2, 4  # gunicorn, as bin/run serves the site
RESTART_STALE_SECONDS = 3
OPEN = {"queued", "running"}  # a training run's states before it ends
# A personal run trains the classifier alone, about 50 ms an epoch on four drawings: 30 epochs keep it running
# for a few seconds, so the kill lands mid-run rather than after it ended between two polls.
TRAINING_ENV = {"FINE_TUNE_EPOCHS": "30", "FINE_TUNE_REPLAY": "1000", "FINE_TUNE_VALIDATION_LIMIT": "1000",
                "TRAINING_RESTART_STALE_SECONDS": str(RESTART_STALE_SECONDS)}


# --- clients that know which worker answered them ----------------------------------------------------------

@dataclass(eq=False)
class Connection:
    client: int
    http_conn: http.client.HTTPConnection = field(repr=False)
    opened: float = field(default_factory=time.monotonic)
    port: int = 0  # the client's end, once connected
    owner: int | None = None  # the worker holding the server end, found after its first answer


@dataclass(frozen=True)
class Answer:
    connection: Connection
    started: float  # time.monotonic()
    ended: float
    status: int | None  # None: no HTTP answer (refused, reset or closed connection)
    problem: str  # "" for a 200 carrying a valid prediction

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.problem


def socket_owner(server_port: int, client_port: int, pids: list[int]) -> int | None:
    """Which of ``pids`` holds the server end of the loopback TCP connection from ``client_port``."""
    inode = next((fields[9] for fields in (line.split() for line in Path("/proc/net/tcp").read_text().splitlines())
                  if fields[1].endswith(f":{server_port:04X}") and fields[2].endswith(f":{client_port:04X}")), None)
    if inode is None:
        return None
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                pass  # closed while we looked
    return None


def prediction_problem(status: int, body: bytes, expected_digit: int | None) -> str:
    if status != 200:
        return f"HTTP {status}: {body[:200]!r}"
    try:
        digit = json.loads(body).get("digit")
    except (ValueError, AttributeError):
        return f"200 whose body is not a JSON object: {body[:200]!r}"
    if not isinstance(digit, int) or not 0 <= digit <= 9 or expected_digit not in (None, digit):
        return f"200 with digit {digit!r}, expected {expected_digit}"
    return ""


class Load:
    """``clients`` threads POSTing ``endpoint``, ``pause`` seconds apart, until stopped or ``max_requests`` have
    been sent, recording every answer, the connection it came on and the worker holding that connection.
    Without the pause the clients alone would saturate a small machine and starve the replacement worker's boot."""

    def __init__(self, port: int, master: int, endpoint: Endpoint, *, clients: int, expected_digit: int | None,
                 pause: float = 0.02, renew_every: int = 20, timeout: float = 20.0, max_requests: int = 20_000) -> None:
        self.port, self.master, self.endpoint, self.expected_digit = port, master, endpoint, expected_digit
        self.pause, self.renew_every, self.timeout = pause, renew_every, timeout
        self.answers: list[Answer] = []  # list.append is atomic under the GIL
        self._budget = iter(range(max_requests))
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, args=(k,), daemon=True) for k in range(clients)]

    def __enter__(self) -> "Load":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 10)

    def _client(self, k: int) -> None:
        conn, used = None, 0
        while not self._stop.is_set() and next(self._budget, None) is not None:
            if conn is None or used >= self.renew_every:
                if conn is not None:
                    conn.http_conn.close()
                conn, used = Connection(k, http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)), 0
            answer = self._send(conn)
            self.answers.append(answer)
            used += 1
            if answer.status is None or conn.http_conn.sock is None:  # failed, or the server closed it
                conn.http_conn.close()
                conn = None
            self._stop.wait(self.pause)
        if conn is not None:
            conn.http_conn.close()

    def _send(self, conn: Connection) -> Answer:
        started = time.monotonic()
        try:
            if not conn.port:
                conn.http_conn.connect()
                conn.port = conn.http_conn.sock.getsockname()[1]
            conn.http_conn.request(self.endpoint.method, self.endpoint.path, body=self.endpoint.body,
                                   headers=self.endpoint.headers)
            response = conn.http_conn.getresponse()
            status, body = response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            return Answer(conn, started, time.monotonic(), None, f"{type(exc).__name__}: {exc}")
        ended = time.monotonic()
        if conn.owner is None:
            conn.owner = socket_owner(self.port, conn.port, children(self.master))
        return Answer(conn, started, ended, status, prediction_problem(status, body, self.expected_digit))


# --- web-worker ---------------------------------------------------------------------------------------------

@dataclass
class WorkerKill:
    workers: list[int]  # before the kill
    victim: int
    killed: float  # time.monotonic() just before the SIGKILL
    replacement: int | None = None
    replaced: float | None = None  # when the master had forked it
    answers: list[Answer] = field(default_factory=list)


def web_worker_drill(port: int, master: int, endpoint: Endpoint, *, expected_digit: int | None, clients: int = 6,
                     before: float = 2.0, after: float = 5.0, cap: float = 45.0,
                     min_new_answers: int = 20) -> WorkerKill:
    """Under load, once ``before`` seconds have passed and every worker has answered (``cap`` seconds at most),
    SIGKILL the busiest worker; keep the load on ``after`` seconds and until the replacement has given
    ``min_new_answers`` valid answers (at most ``cap`` seconds after the kill)."""
    workers = children(master)
    with Load(port, master, endpoint, clients=clients, expected_digit=expected_digit) as load:
        began = time.monotonic()
        answered = lambda: Counter(a.connection.owner for a in list(load.answers) if a.ok)  # noqa: E731
        while time.monotonic() < began + cap and (time.monotonic() < began + before or set(workers) - set(answered())):
            time.sleep(0.05)
        busiest = [pid for pid, _ in answered().most_common() if pid in workers]
        kill = WorkerKill(workers, (busiest or workers)[0], time.monotonic())
        os.kill(kill.victim, signal.SIGKILL)
        while time.monotonic() < kill.killed + cap:
            now, current = time.monotonic(), children(master)
            if kill.replaced is None and len(current) == len(workers) and kill.victim not in current:
                kill.replacement, kill.replaced = min(set(current) - set(workers)), now
            if kill.replaced and now >= kill.killed + after and answered()[kill.replacement] >= min_new_answers:
                break
            time.sleep(0.05)
    kill.answers = load.answers
    return kill


def phase(kill: WorkerKill, answer: Answer) -> str:
    if answer.ended < kill.killed:
        return "before kill"
    if kill.replaced is not None and answer.started >= kill.replaced:
        return "after replacement"
    return "kill to replacement"


def role(kill: WorkerKill, pid: int | None) -> str:
    return {kill.victim: "killed", kill.replacement: "replacement", None: "unknown"}.get(pid, "survivor")


def worker_kill_report(kill: WorkerKill, master: int, log: Path) -> dict:
    phases = {name: Counter() for name in ("before kill", "kill to replacement", "after replacement")}
    for answer in kill.answers:
        phases[phase(kill, answer)]["ok" if answer.ok else "failed"] += 1
    after_kill = Counter(role(kill, a.connection.owner) for a in kill.answers if a.ok and a.started >= kill.killed)
    new = [a.ended for a in kill.answers if a.ok and a.connection.owner == kill.replacement]
    since_kill = lambda t: None if t is None else round(t - kill.killed, 3)  # noqa: E731
    return {
        "clients": len({a.connection.client for a in kill.answers}), "requests": len(kill.answers),
        "workers_before": kill.workers, "killed_worker": kill.victim, "replacement_worker": kill.replacement,
        "workers_after": children(master), "time_to_replacement_s": since_kill(kill.replaced),
        "time_to_first_answer_from_replacement_s": since_kill(min(new, default=None)),
        "phases": {name: {"ok": c["ok"], "failed": c["failed"]} for name, c in phases.items()},
        "answered_after_kill_by": dict(after_kill),
        "statuses": dict(Counter(str(a.status or "no answer") for a in kill.answers)),
        "failures": [{"client": a.connection.client, "worker": role(kill, a.connection.owner),
                      "started_ms_after_kill": round((a.started - kill.killed) * 1000, 1),
                      "ended_ms_after_kill": round((a.ended - kill.killed) * 1000, 1), "problem": a.problem}
                     for a in kill.answers if not a.ok],
        "gunicorn_log_problems": scan_log(log)["notable"],
    }


def print_worker_kill(report: dict) -> None:
    print(f"\nworkers {report['workers_before']}: SIGKILL to {report['killed_worker']}; replaced by "
          f"{report['replacement_worker']} after {report['time_to_replacement_s']} s (first answer from it after "
          f"{report['time_to_first_answer_from_replacement_s']} s); workers now {report['workers_after']}")
    for name, counts in report["phases"].items():
        print(f"  {name:<20} ok {counts['ok']:>6}   failed {counts['failed']:>3}")
    print(f"  answered after the kill by: {report['answered_after_kill_by']}; statuses {report['statuses']}")
    for failure in report["failures"]:
        print(f"  failed: client {failure['client']} on the {failure['worker']} worker, "
              f"{failure['started_ms_after_kill']} ms -> {failure['ended_ms_after_kill']} ms: {failure['problem']}")
    for line in report["gunicorn_log_problems"]:
        print(f"  gunicorn log: {line}")


def run_web_worker(args: argparse.Namespace) -> dict:
    png, label = canvas_png()
    with running_site(args.checkpoint, workers=WORKERS, threads=THREADS) as site:
        kill = web_worker_drill(site.port, site.gunicorn.pid, predict_multipart(png), expected_digit=label,
                                clients=args.clients, before=args.before, after=args.after)
        report = worker_kill_report(kill, site.gunicorn.pid, site.tmp / "gunicorn.log")
    print_worker_kill(report)
    return {"gunicorn": {"workers": WORKERS, "threads": THREADS, "worker_class": "gthread"}, **report}


# --- training-worker ----------------------------------------------------------------------------------------

def call(session: Session, method: str, path: str, expected: int, body: bytes = b"", headers: dict | None = None,
         ) -> bytes:
    status, data = session.request(method, path, body, headers)
    if status != expected:
        raise RuntimeError(f"{method} {path} answered {status}, not {expected}: {data[:300]!r}")
    return data


def wait_for_run(session: Session, run: int, condition, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = json.loads(call(session, "GET", f"/api/train/{run}", 200))
        if condition(state):
            return state
        time.sleep(0.2)
    raise TimeoutError(f"training run {run}: condition not met in {timeout:.0f} s (last: {state})")


def save_drawings(session: Session, count: int = 4) -> None:
    """The first ``count`` MNIST test digits on 280x280 canvases, saved with their labels."""
    call(session, "GET", "/", 200)  # the csrftoken cookie
    for body, _ in drawing_pool(count, 0, size=(280, 280), shuffle=False):
        call(session, "POST", "/api/samples", 201, body, {"Content-Type": MULTIPART_TYPE})


def training_worker_drill(site, png: bytes, *, kill_at: float = 0.15, timeout: float = 400.0) -> dict:
    session, report = Session(site.port), {"active_version_before": active_version(site.port, predict_multipart(png))}
    save_drawings(session)
    worker = start_training_worker(site.env, site.tmp)
    try:
        run = json.loads(call(session, "POST", "/api/train", 202))["job"]
        state = wait_for_run(session, run, lambda s: s["progress"] > kill_at or s["status"] not in OPEN, timeout)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        report["killed_at"] = {"status": state["status"], "progress": state["progress"]}
        time.sleep(RESTART_STALE_SECONDS + 1)  # the dead worker's heartbeat is now stale
        worker, restarted = start_training_worker(site.env, site.tmp), time.monotonic()
        state = wait_for_run(session, run, lambda s: s["status"] != "running", 60)
        report["interrupted_run"] = {"status": state["status"], "error": state["error"],
                                     "seconds_after_restart": round(time.monotonic() - restarted, 1)}
        report["active_version_after_failure"] = active_version(site.port, predict_multipart(png))
        began, run = time.monotonic(), json.loads(call(session, "POST", "/api/train", 202))["job"]
        state = wait_for_run(session, run, lambda s: s["status"] not in OPEN, timeout)
        report["next_run"] = {**{key: state[key] for key in ("status", "progress", "history", "error")},
                              **run_figures(state["metrics"]), "seconds": round(time.monotonic() - began, 1)}
        report["active_version_at_end"] = active_version(site.port, predict_multipart(png))
    finally:
        stop_process(worker, grace=30)
        session.close()
    report["worker_log"] = (site.tmp / "training_worker.log").read_text(errors="replace").splitlines()[-20:]
    return report


def run_training_worker(args: argparse.Namespace) -> dict:
    png, _ = canvas_png()
    with running_site(args.checkpoint, workers=WORKERS, threads=THREADS, extra_env=TRAINING_ENV) as site:
        report = training_worker_drill(site, png)
    run = report["interrupted_run"]
    print(f"\nkilled the training worker at progress {report['killed_at']['progress']:.2f} "
          f"({report['killed_at']['status']}); after the restart the run is {run['status']!r} "
          f"({run['seconds_after_restart']} s): {run['error']}")
    print(f"active version: {report['active_version_before']} before, {report['active_version_after_failure']} "
          f"after the failed run, {report['active_version_at_end']} at the end")
    print(f"next run: {report['next_run']['status']} in {report['next_run']['seconds']} s, progress "
          f"{report['next_run']['progress']}, {len(report['next_run']['history'])} epochs; gate: "
          f"{report['next_run']['gate']}")
    return {"environment": TRAINING_ENV, **report}


# --- main --------------------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("drill", choices=["web-worker", "training-worker"])
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--clients", type=int, default=6, help="web-worker: client threads (default 6)")
    parser.add_argument("--before", type=float, default=2.0, help="web-worker: seconds of load before the kill")
    parser.add_argument("--after", type=float, default=5.0, help="web-worker: least seconds of load after it")
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not checkpoint_found(args.checkpoint):
        return 2
    unwind_on_sigterm()
    began = time.monotonic()
    found = run_web_worker(args) if args.drill == "web-worker" else run_training_worker(args)
    previous = args.out / "fault_drills.json"  # one file holds each drill's latest run
    results = json.loads(previous.read_text()) if previous.exists() else {}
    results[args.drill] = {"timestamp": datetime.datetime.now(datetime.UTC).isoformat(),
                           "seconds": round(time.monotonic() - began, 1), **found,
                           "machine": machine_info(), "code": code_state()}
    write_result(args.out, "fault_drills.json", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
