"""Personal training speed: from pressing Train to the personal model answering, through the real API and worker.

    .venv/bin/python -m bench.personal_training            # defaults: --sizes 20,200 --repeats 3

A throwaway site (bench/harness: gunicorn 2 workers x 4 threads, rate limit off, the fine-tune settings left at
the site's defaults) and a real ``manage.py training_worker`` polling the queue every ``--worker-interval`` s
(1.0, as bin/run starts it). The worker builds the active model's MNIST features when it starts; the bench waits
for that (its log says so) and reports how long it took, then times only a warm worker.

For each size N and repeat, a fresh session (cookies, CSRF token from ``GET /``) saves N pen-drawn digits over
HTTP, spread evenly over the ten digits, all in one style family (bench/pen_digits.py: the plain shape of each
digit), each session its own drawings. Then ``POST /api/train``, ``GET /api/train/<id>`` every ``--poll`` s
until the run has finished, and one ``POST /api/predict`` with the session's cookie, which must answer
``"personal": true`` with the run's model version. Timed: POST to that answer. Split: queue wait (created to
started, read from the site's database: not in the API), the worker's stages (metrics.seconds: load, train,
gate, activate) and what else the run took, and the rest (the POST, the poll's granularity, the first
prediction, which loads the new model into the web worker). Targets: <= 10 s for 20 drawings and <= 30 s for 200,
every repeat. Writes bench/results/personal_training.json.
"""

import argparse
import statistics
import sys
from pathlib import Path

from bench.harness.monitor import cpu_seconds, scan_logs
from bench.harness.processes import DEFAULT_CHECKPOINT, SITE_SETTINGS, running_site, stop_process
from bench.harness.results import RESULTS, fmt, run_figures
from bench.pen_digits import iter_pen_digits
from bench.personal import Followed, PersonalSession, run_benchmark, run_times, start_ready_worker

# One style family: the plain shape of each digit, drawn by any hand (bench/pen_digits.py).
FAMILY = ["0 oval", "1 stroke", "2 plain", "3 round", "4 closed", "5 two strokes", "6 curved", "7 plain",
          "8 two loops", "9 straight stem"]
TARGET_SECONDS = {20: 10.0, 200: 30.0}
STAGES = ("load", "train", "gate", "activate")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[20, 200],
                        help="drawings per session, comma-separated (default 20,200)")
    parser.add_argument("--repeats", type=int, default=3, help="fresh sessions per size (default 3)")
    parser.add_argument("--poll", type=float, default=0.1, help="seconds between status polls (default 0.1)")
    parser.add_argument("--worker-interval", type=float, default=1.0,
                        help="seconds between the worker's queue polls (default 1.0, bin/run's)")
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def drawings(args: argparse.Namespace) -> dict[tuple[int, int], list]:
    """Each (size, repeat)'s own drawings, N spread evenly over the digits, drawn before the site starts."""
    found = {}
    for size in args.sizes:
        for repeat in range(args.repeats):
            per_digit = -(-size // len(FAMILY))
            found[size, repeat] = list(iter_pen_digits(per_digit, args.seed + 1000 * size + repeat, FAMILY))[:size]
    return found


def one_run(site, worker: int, size: int, samples: list, probe: bytes, args: argparse.Namespace) -> dict:
    """Save, train and predict once in a fresh session; with the CPU seconds the training worker used meanwhile
    (set against the wall-clock seconds, it tells a busy machine from more work)."""
    session = PersonalSession(site.port).open()
    try:
        saves = session.save(samples)
        cpu = cpu_seconds([worker])
        followed = session.train(poll=args.poll, probe=probe)
        cpu = cpu_seconds([worker]) - cpu
    finally:
        session.close()
    return {"size": size, "saves_ms": saves, "followed": followed, "worker_cpu_s": cpu}


def breakdown(row: dict, times: dict) -> dict:
    """Where the seconds from POST to the personal model's first answer went."""
    followed: Followed = row["followed"]
    run, answer = followed.run, followed.serving.get("answer", {})
    stages = (run.get("metrics") or {}).get("seconds") or {}
    worker = times["finished"] - times["started"] if times.get("finished") and times.get("started") else None
    return {
        "size": row["size"], "job": followed.job, "status": run["status"],
        "personal_served": answer.get("personal") is True and answer.get("model_version") == run["model_version"],
        "model_version": run["model_version"], "answer_version": answer.get("model_version"),
        "total_s": followed.serving["at"] - followed.posted if followed.serving else None,
        "finished_seen_s": followed.finished_seen - followed.posted,
        "queue_wait_s": times["started"] - times["created"] if times.get("started") else None,
        "worker_s": worker, "stages_s": stages, "worker_cpu_s": row["worker_cpu_s"],
        "worker_other_s": worker - sum(stages.values()) if worker is not None and stages else None,
        "post_to_created_s": times["created"] - followed.posted,
        "finish_to_served_s": followed.serving["at"] - times["finished"] if followed.serving else None,
        "first_predict_ms": followed.serving.get("ms"), "polls": followed.polls,
        "save_p50_ms": statistics.median(row["saves_ms"]), "save_total_s": sum(row["saves_ms"]) / 1000,
        **run_figures(run.get("metrics") or {}), "trained_on": (run.get("metrics") or {}).get("trained_on"),
    }


def measure(args: argparse.Namespace) -> dict:
    sets = drawings(args)
    probe = next(iter_pen_digits(1, args.seed - 1, ["7 plain"])).data
    with running_site(args.checkpoint, 2, 4) as site:
        worker, warm_up_s = start_ready_worker(site, interval=args.worker_interval)
        print(f"training worker pid {worker.pid}: MNIST features built, polling, {warm_up_s:.1f} s after launch")
        try:
            rows = []
            for repeat in range(args.repeats):
                for size in args.sizes:
                    rows.append(one_run(site, worker.pid, size, sets[size, repeat], probe, args))
                    print(f"  N={size} repeat {repeat + 1}: {rows[-1]['followed'].run['status']}", flush=True)
            times = run_times(site, [row["followed"].job for row in rows])
            logs = scan_logs(site.tmp)
        finally:
            stop_process(worker, grace=10)
    return {"warm_up_s": warm_up_s, "runs": [breakdown(row, times[row["followed"].job]) for row in rows],
            "logs": logs}


def report(found: dict, args: argparse.Namespace) -> dict:
    print(f"\nPERSONAL TRAINING SPEED (warm worker; it took {found['warm_up_s']:.1f} s from launch to build its MNIST "
          f"features; queue polled every {args.worker_interval} s, status every {args.poll} s)")
    print(f"{'N':>4} {'run':>4} {'status':<9} {'total s':>7} | {'queue':>5} {'load':>5} {'train':>5} {'gate':>5} "
          f"{'activ':>5} {'other':>5} {'CPU s':>5} | {'rest':>5} {'1st pred ms':>11} {'personal':>8} "
          f"{'held-out before->after':>23}")
    for r in found["runs"]:
        held = r["held_out"]
        stage = [fmt(r["stages_s"].get(name), "5.2f") for name in STAGES]
        rest = None if r["total_s"] is None else r["total_s"] - (r["queue_wait_s"] or 0) - (r["worker_s"] or 0)
        print(f"{r['size']:>4} {r['job']:>4} {r['status']:<9} {fmt(r['total_s'], '7.2f')} | "
              f"{fmt(r['queue_wait_s'], '5.2f')} {' '.join(stage)} {fmt(r['worker_other_s'], '5.2f')} "
              f"{r['worker_cpu_s']:5.2f} | "
              f"{fmt(rest, '5.2f')} {fmt(r['first_predict_ms'], '11.1f')} {r['personal_served']!s:>8} "
              f"{fmt(held['before'], '10.1%')} -> {fmt(held['after'], '.1%')}")
    print("(queue: created -> started; other: the rest of the worker's time; CPU s: what the training worker used "
          "from POST to the answer, on up to 2 threads; rest: the POST, the poll's lag and the first prediction, which "
          "loads the new model into a web worker)")
    checks = {}
    for size in args.sizes:
        runs = [r for r in found["runs"] if r["size"] == size]
        totals = [r["total_s"] for r in runs if r["total_s"] is not None]
        target = TARGET_SECONDS.get(size)
        ok = (len(totals) == len(runs) and all(r["personal_served"] for r in runs)
              and (target is None or max(totals) <= target))
        checks[f"n{size}"] = {"median_s": statistics.median(totals) if totals else None,
                              "max_s": max(totals) if totals else None, "target_s": target, "pass": ok}
        print(f"{'PASS' if ok else 'FAIL'}: N={size}: POST -> personal model answering, median "
              f"{fmt(checks[f'n{size}']['median_s'], '.2f')} s, worst {fmt(checks[f'n{size}']['max_s'], '.2f')} s "
              f"(target <= {fmt(target, '.0f')} s, every repeat, and every first answer personal)")
    checks["pass"] = all(c["pass"] for c in checks.values())
    print(f"RESULT: {'PASS' if checks['pass'] else 'FAIL'}")
    return checks


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"sizes {args.sizes}, {args.repeats} repeats, one fresh session each; style family: {', '.join(FAMILY)}")

    def finish(found: dict) -> dict:
        checks = report(found, args)
        return {"settings": {"site_env": SITE_SETTINGS, "fine_tune": "the site's defaults", "sizes": args.sizes,
                             "repeats": args.repeats, "poll_s": args.poll, "worker_interval_s": args.worker_interval,
                             "seed": args.seed, "style_family": FAMILY, "gunicorn": "2 workers x 4 threads (gthread)"},
                **found, "checks": checks}

    return run_benchmark("personal_training", argv, args, measure, finish)


if __name__ == "__main__":
    sys.exit(main())
