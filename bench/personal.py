"""What the personal-model benchmarks share: a browser session that saves drawings, trains its personal model and
predicts through the real API, a training worker that has built its MNIST features, and the runs' own timestamps.

A session is what the page is: cookies, the CSRF token from ``GET /`` sent as X-CSRFToken, ``POST /api/samples``
(multipart ``file`` + ``label``), ``POST /api/train``, ``GET /api/train/<id>`` and ``POST /api/predict``.
"""

import argparse
import base64
import datetime
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from bench.harness.client import MULTIPART_TYPE, Session, multipart_body
from bench.harness.processes import Site, checkpoint_found, manage_shell, start_training_worker, unwind_on_sigterm
from bench.harness.results import code_state, machine_info, write_result
from bench.pen_digits import PenSample
from recognizer.ml.checkpoints import file_sha256

FINISHED = {"succeeded", "rejected", "failed"}
WORKER_READY = "Starting worker"  # what django-tasks-db's db_worker logs once training_worker's warm-up is done

RUN_TIMES = """
import json, os
from training.models import TrainingRun
ids = json.loads(os.environ["BENCH_RUNS"])
stamp = lambda moment: moment.timestamp() if moment else None
print(json.dumps({run.pk: {"created": stamp(run.created), "started": stamp(run.started),
                           "finished": stamp(run.finished)} for run in TrainingRun.objects.filter(pk__in=ids)}))
"""


class ApiError(RuntimeError):
    pass


@dataclass
class Followed:
    """A training run as the session saw it: the last status answer and when things happened (time.time())."""
    job: int
    run: dict
    posted: float           # just before POST /api/train
    finished_seen: float    # the poll that first saw it finished
    polls: int
    serving: dict = field(default_factory=dict)  # the first prediction after it: answer, ms, when it came back


class PersonalSession(Session):
    """A browser session on the site, with the calls the page makes."""

    def call(self, method: str, path: str, expected: int, body: bytes = b"", headers: dict | None = None) -> bytes:
        status, data = self.request(method, path, body, headers)
        if status != expected:
            raise ApiError(f"{method} {path} answered {status}, not {expected}: {data[:300]!r}")
        return data

    def open(self) -> "PersonalSession":
        self.call("GET", "/", 200)  # the csrftoken cookie
        return self

    @property
    def key(self) -> str:
        return self.cookies["sessionid"]

    def save(self, samples: list[PenSample]) -> list[float]:
        """Save every drawing with its label; the milliseconds each save took."""
        took = []
        for sample in samples:
            began = time.perf_counter()
            self.call("POST", "/api/samples", 201, multipart_body(sample.data, {"label": str(sample.label)}),
                      {"Content-Type": MULTIPART_TYPE})
            took.append((time.perf_counter() - began) * 1000)
        return took

    def predict(self, png: bytes) -> tuple[dict, float]:
        """The prediction's answer and its milliseconds."""
        began = time.perf_counter()
        data = self.call("POST", "/api/predict", 200, multipart_body(png), {"Content-Type": MULTIPART_TYPE})
        return json.loads(data), (time.perf_counter() - began) * 1000

    def train(self, *, poll: float = 0.1, cap: float = 180.0, probe: bytes | None = None) -> Followed:
        """POST /api/train, poll the run every ``poll`` s until it ends (or ``cap`` s pass: ApiError), then, with
        ``probe``, predict it once: the first answer from the new personal model."""
        posted = time.time()
        job = json.loads(self.call("POST", "/api/train", 202))["job"]
        polls = 0
        while True:
            run = json.loads(self.call("GET", f"/api/train/{job}", 200))
            polls += 1
            if run["status"] in FINISHED:
                break
            if time.time() - posted > cap:
                raise ApiError(f"training run {job} still {run['status']} after {cap:.0f} s")
            time.sleep(poll)
        followed = Followed(job, run, posted, time.time(), polls)
        if probe is not None:
            answer, ms = self.predict(probe)
            followed.serving = {"answer": answer, "ms": ms, "at": time.time()}
        return followed


def seen_digit(answer: dict) -> np.ndarray:
    """The 28x28 the network saw, from a prediction's ``preprocessed`` data URL."""
    data = base64.b64decode(answer["preprocessed"].split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"))


def start_ready_worker(site: Site, *, interval: float = 0.5, timeout: float = 180.0) -> tuple[subprocess.Popen, float]:
    """A training worker that has built the active model's MNIST features (its log says it started polling), and
    the seconds that took from its launch. RuntimeError, with the log's tail, when it exits or takes too long."""
    log, began = site.tmp / "training_worker.log", time.monotonic()
    worker = start_training_worker(site.env, site.tmp, interval)
    while time.monotonic() - began < timeout:
        text = log.read_text(errors="replace") if log.exists() else ""
        if WORKER_READY in text:
            return worker, time.monotonic() - began
        if worker.poll() is not None:
            break
        time.sleep(0.1)
    text = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    worker.kill()
    raise RuntimeError(f"the training worker did not get ready (exit {worker.poll()}):\n{text}")


def run_times(site: Site, jobs: list[int]) -> dict[int, dict]:
    """created, started and finished (Unix seconds) of each run, read from the site's database: when the worker
    took a run is not in the API."""
    found = json.loads(manage_shell({**site.env, "BENCH_RUNS": json.dumps(jobs)}, RUN_TIMES).splitlines()[-1])
    return {int(pk): times for pk, times in found.items()}


def run_benchmark(module: str, argv: list[str] | None, args: argparse.Namespace,
                  measure: Callable[[argparse.Namespace], dict], finish: Callable[[dict], dict]) -> int:
    """A personal-model benchmark's main: ``measure(args)`` on a throwaway site, then ``finish(found)`` prints the
    report and returns what the JSON holds besides what every result records; written to
    ``args.out``/<module>.json. Exits 2 without the checkpoint, 1 when the site or the API failed, 130 when
    interrupted (servers stopped and the temp folder removed on every path)."""
    if not checkpoint_found(args.checkpoint):
        return 2
    unwind_on_sigterm()
    try:
        found = measure(args)
    except (RuntimeError, OSError, subprocess.CalledProcessError, ApiError) as exc:
        print(f"the benchmark could not complete: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: servers stopped, temp folder removed; nothing written", file=sys.stderr)
        return 130
    fields = finish(found)
    result = {
        "benchmark": module.replace("_", "-"), "timestamp": datetime.datetime.now(datetime.UTC).isoformat(),
        "command": " ".join([Path(sys.executable).name, "-m", f"bench.{module}", *(argv or sys.argv[1:])]),
        "checkpoint": {"path": str(args.checkpoint), "sha256": file_sha256(args.checkpoint)}, **fields,
        "machine": {**machine_info(), "load_average_after": os.getloadavg()}, "code": code_state(),
    }
    write_result(args.out, f"{module}.json", result)
    return 0
