"""Object storage: what keeping files and weights in S3 costs against the file system, over HTTP, in one run.

    .venv/bin/python -m bench.object_storage      # defaults: --requests 400 --saves 80 --cold 5

Two throwaway sites side by side (bench/harness: gunicorn 1 worker x 2 threads each, rate limit off), the same
checkpoint active: one on the file system, one keeping samples' files and model weights in a bucket of moto's S3
server over HTTP (bench.harness.processes.running_s3). Requests alternate between the two in blocks of
``--block``, so both meet the same load.

1. Predictions on a warm host: the 280x280 canvas to /api/predict, ``--requests`` to each site after a warm-up
   (the S3 site's worker has fetched the weights into its cache). Target (issue 17): the S3 site's p50 within
   0.5 ms of the file system's.
2. Saving a sample: ``--saves`` POST /api/samples from one session per site. Reported side by side (no target):
   on S3 each save writes two objects over HTTP.
3. A personal model on a cold host: ``--cold`` sessions on the S3 site each get a personal model (made through
   the Django shell from the active weights, the last bias nudged so each file differs: bench/personal_serving.py's
   COPIES); its first prediction makes the web worker fetch the weights from the bucket,
   check them and load them; then 20 more predictions. Target: the first within 300 ms of the warm p50.

Writes bench/results/object_storage.json.
"""

import argparse
import contextlib
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from bench.harness.client import Session, canvas_png, multipart_body, predict_multipart, request_once
from bench.harness.processes import (
    DEFAULT_CHECKPOINT, checkpoint_found, manage_shell, running_s3, running_site, s3_bucket_create, s3_environment,
    unwind_on_sigterm,
)
from bench.harness.results import RESULTS, code_state, machine_info, pass_fail, summarise, write_result
from bench.personal_serving import COPIES

WARM_TARGET_MS = 0.5
COLD_TARGET_MS = 300.0
MULTIPART_TYPE = predict_multipart(b"").headers["Content-Type"]
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="warm predictions per site (default 400)")
    parser.add_argument("--saves", type=int, default=80, help="sample saves per site (default 80)")
    parser.add_argument("--cold", type=int, default=5, help="sessions whose personal model is fetched cold (5)")
    parser.add_argument("--block", type=int, default=20, help="requests per site before switching (default 20)")
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return 1000 * (time.perf_counter() - started)


def alternate(sites: dict, count: int, block: int, one) -> dict[str, np.ndarray]:
    """``one(name)`` ``count`` times per site, in alternating blocks; each call's milliseconds per site."""
    times: dict[str, list[float]] = {name: [] for name in sites}
    while any(len(t) < count for t in times.values()):
        for name in sites:
            for _ in range(min(block, count - len(times[name]))):
                times[name].append(timed(lambda name=name: one(name)))
    return {name: np.array(t) for name, t in times.items()}


def checked(status: int, body: bytes, expected: int = 200) -> bytes:
    if status != expected:
        raise RuntimeError(f"answered {status}: {body[:300]!r}")
    return body


def measure(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict:
    png, label = canvas_png()
    endpoint = stack.enter_context(running_s3(Path(tempfile.mkdtemp(prefix="mnistsite-moto-")) / "moto.log"))
    bucket = f"mnistsite-bench-{uuid.uuid4().hex[:8]}"
    s3_bucket_create(endpoint, bucket)
    sites = {"file system": stack.enter_context(running_site(args.checkpoint, 1, 2)),
             "S3": stack.enter_context(running_site(args.checkpoint, 1, 2, extra_env=s3_environment(endpoint, bucket)))}
    predict = predict_multipart(png)

    def predict_on(name: str, session: Session | None = None) -> dict:
        if session is None:
            return json.loads(checked(*request_once(sites[name].port, predict)))
        return json.loads(checked(*session.request("POST", "/api/predict", predict.body, predict.headers)))

    for name in sites:  # warm: the S3 site's worker fetches the active weights into its cache here
        for _ in range(20):
            assert predict_on(name)["digit"] == label
    warm = alternate(sites, args.requests, args.block, predict_on)

    sessions = {name: Session(sites[name].port) for name in sites}
    for session in sessions.values():
        checked(*session.request("GET", "/"))
    save_body = multipart_body(png, {"label": str(label)})

    def save_on(name: str) -> None:
        checked(*sessions[name].request("POST", "/api/samples", save_body, {"Content-Type": MULTIPART_TYPE}), 201)

    saves = alternate(sites, args.saves, max(1, args.block // 4), save_on)

    cold_sessions = [Session(sites["S3"].port) for _ in range(args.cold)]
    for session in cold_sessions:  # a stored session of its own: save one drawing
        checked(*session.request("GET", "/"))
        checked(*session.request("POST", "/api/samples", save_body, {"Content-Type": MULTIPART_TYPE}), 201)
    keys = [session.cookies["sessionid"] for session in cold_sessions]
    active = predict_on("S3")["model_version"]
    plan = json.dumps([[key, active] for key in keys])
    made = json.loads(manage_shell({**sites["S3"].env, "BENCH_COPIES": plan}, COPIES).splitlines()[-1])
    cold = []
    for session, key in zip(cold_sessions, keys, strict=True):
        first = timed(lambda session=session: _expect_personal(predict_on("S3", session), made[key]))
        then = [timed(lambda session=session: predict_on("S3", session)) for _ in range(20)]
        cold.append({"first_ms": first, "warm_p50_ms": float(np.median(then)),
                     "extra_ms": first - float(np.median(then))})
    return {"warm": {name: summarise(t, "") for name, t in warm.items()},
            "saves": {name: summarise(t, "") for name, t in saves.items()}, "cold": cold}


def _expect_personal(answer: dict, version: int) -> None:
    if not (answer.get("personal") and answer.get("model_version") == version):
        raise RuntimeError(f"expected personal model v{version}: {answer}")


def report(found: dict) -> dict:
    warm, saves = found["warm"], found["saves"]
    print(f"{'':24s} {'file system':>12s} {'S3':>12s} {'difference':>11s}")
    for title, rows in (("predict p50 (warm)", warm), ("sample save p50", saves)):
        fs, s3 = rows["file system"]["p50_ms"], rows["S3"]["p50_ms"]
        print(f"{title:24s} {fs:10.2f} ms {s3:10.2f} ms {s3 - fs:+9.2f} ms")
    extras = [c["extra_ms"] for c in found["cold"]]
    print("personal model, cold host: first prediction " + ", ".join(f"{c['first_ms']:.0f}" for c in found["cold"])
          + f" ms; warm p50 {np.median([c['warm_p50_ms'] for c in found['cold']]):.1f} ms; "
          f"extra median {np.median(extras):.0f} ms, max {max(extras):.0f} ms")
    checks = {
        f"predict p50 on S3 within {WARM_TARGET_MS} ms of the file system":
            warm["S3"]["p50_ms"] - warm["file system"]["p50_ms"] <= WARM_TARGET_MS,
        f"a personal model's first prediction on a cold host within {COLD_TARGET_MS:.0f} ms of warm":
            max(extras) <= COLD_TARGET_MS,
    }
    for name, ok in checks.items():
        print(f"target {name}: {pass_fail(ok)}")
    return checks


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not checkpoint_found(args.checkpoint):
        return 2
    unwind_on_sigterm()
    with contextlib.ExitStack() as stack:
        found = measure(args, stack)
    checks = report(found)
    write_result(args.out, "object_storage.json", {"machine": machine_info(), "code": code_state(), "args": vars(args),
                                              **found, "checks": checks})
    return 0


if __name__ == "__main__":
    sys.exit(main())
