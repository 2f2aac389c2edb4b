"""Personal model serving: prediction latency with a personal model against the shared one, and web worker memory
with 50 sessions predicting on 50 personal models.

    .venv/bin/python -m bench.personal_serving        # defaults: --trained 3 --sessions 50 --requests 1000

A throwaway site (bench/harness: gunicorn 2 workers x 4 threads, rate limit off, LOG_LEVEL=INFO so each model
load is logged) and a real training worker. ``--trained`` sessions each save 20 pen-drawn digits and train a
personal model through the API (POST /api/train, poll, first prediction personal).

1. Latency. One client, one keep-alive connection per session, the same 280x280 canvas PNG: the personal
   session (its model already loaded), a session without a personal model (same cookies and session lookup,
   read by the shared model) and a client without cookies, in alternating blocks of ``--block`` requests until
   each has sent ``--requests``. Every answer is checked (personal true and the run's version, or personal
   false). Target: personal p50 within 1 ms of the shared p50 (the session without a personal model).
2. Memory. ``--sessions`` (50) real sessions, made by the site (each saved one drawing, so it has a cookie and a
   stored session): the trained ones plus new ones. The new ones get personal models through the Django shell,
   not through training (training 50 would take long): model_version_create with the weights of a trained one,
   the last layer's bias nudged by 1e-4 so every file is distinct, then personal_model_promote, as the worker
   does. Then all sessions predict at once, ``--predictions`` each, every answer checked against the session's
   own version. ``PERSONAL_MODEL_CACHE`` is ``--cache`` (64: all 50 stay loaded in each web worker, the most
   memory they can take; the site's default, 32, evicts and reloads instead). VmRSS and VmHWM of every web
   worker every 0.5 s (bench.load.MemorySampler). Target: every web worker under 1 GB.

Writes bench/results/personal_serving.json.
"""

import argparse
import json
import re
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np

from bench.harness.client import canvas_png
from bench.harness.monitor import children, resident_by_file, scan_logs
from bench.harness.processes import DEFAULT_CHECKPOINT, SITE_SETTINGS, manage_shell, running_site, stop_process
from bench.harness.results import RESULTS, fmt, summarise
from bench.load import WEB_WORKER_LIMIT_MIB, MemorySampler
from bench.pen_digits import iter_pen_digits
from bench.personal import ApiError, PersonalSession, run_benchmark, start_ready_worker
from bench.personal_training import FAMILY

TARGET_P50_GAP_MS = 1.0
# Mapped files that only a CUDA build of PyTorch brings (CUDA libraries, Triton): a CPU-only wheel has none.
GPU_LIBRARIES = re.compile(r"/nvidia/|/triton/|libtorch_cuda|/cuda/bindings/|nvjpeg")
TRAIN_DRAWINGS = 20
LOADED = "Loaded model"  # recognizer.inference logs it (INFO) each time a web worker loads a version

COPIES = """
import json, os, torch
from recognizer.models import ModelVersion
from recognizer.versions import model_version_create, personal_model_promote
from recognizer.visitors import Visitor
plan = json.loads(os.environ["BENCH_COPIES"])  # [[session key, trained version id], ...]
generator, made = torch.Generator().manual_seed(0), {}
for session_key, source_id in plan:
    source = ModelVersion.objects.get(pk=source_id)
    network = source.load_network()
    with torch.no_grad():
        network.classifier[-1].bias.add_(torch.randn(10, generator=generator) * 1e-4)
    version = model_version_create(
        network=network, name_prefix="benchcopy", metadata={"copy_of": source_id}, parent=source.parent,
        owner=Visitor(session_key), trained_on=source.trained_on, gate_passed=True, gate_reason=f"benchmark copy of v{source_id}",
        notes=f"benchmark copy of v{source_id}, bias nudged; not trained", metrics={})
    personal_model_promote(visitor=Visitor(session_key), version=version)
    made[session_key] = version.pk
print(json.dumps(made))
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trained", type=int, default=3, help="sessions that train a real personal model")
    parser.add_argument("--sessions", type=int, default=50, help="sessions with a personal model in the memory run")
    parser.add_argument("--requests", type=int, default=1000, help="latency: predictions per kind (default 1000)")
    parser.add_argument("--block", type=int, default=50, help="latency: predictions per block, kinds alternating")
    parser.add_argument("--predictions", type=int, default=20, help="memory: predictions per session (default 20)")
    parser.add_argument("--cache", type=int, default=64, help="PERSONAL_MODEL_CACHE (default 64)")
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--seed", type=int, default=5151)
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def loads_since(log: Path, offset: int) -> tuple[int, int]:
    """How many model loads the web workers logged past ``offset``, and the log's new end."""
    with open(log, "rb") as handle:
        handle.seek(offset)
        text = handle.read().decode(errors="replace")
        return text.count(LOADED), handle.tell()


# --- training a few real personal models --------------------------------------------------------------------

def train_sessions(site, count: int, probe: bytes, seed: int) -> list[tuple[PersonalSession, int]]:
    """``count`` sessions, each with 20 drawings of its own and a personal model trained from them."""
    trained = []
    for k in range(count):
        session = PersonalSession(site.port).open()
        session.save(list(iter_pen_digits(TRAIN_DRAWINGS // len(FAMILY), seed + k, FAMILY)))
        followed = session.train(probe=probe)
        answer = followed.serving["answer"]
        if followed.run["status"] != "succeeded" or not answer["personal"]:
            raise ApiError(f"training run {followed.job} ended {followed.run['status']}: "
                           f"{followed.run.get('error') or (followed.run.get('metrics') or {}).get('gate')}")
        print(f"  session {k + 1}: run {followed.job} {followed.run['status']}, personal model "
              f"v{followed.run['model_version']}", flush=True)
        trained.append((session, followed.run["model_version"]))
    return trained


# --- 1. latency ------------------------------------------------------------------------------------------------

def latency(site, personal: tuple[PersonalSession, int], png: bytes, args) -> dict:
    """Alternating blocks of predictions from the personal session, a session without a personal model and a
    client without cookies; each answer checked."""
    shared = PersonalSession(site.port).open()
    shared.save(list(iter_pen_digits(1, args.seed - 1, ["3 round"])))  # a stored session, no personal model
    kinds = {"personal model": (personal[0], personal[1]), "shared, with a session": (shared, None),
             "shared, no cookies": (PersonalSession(site.port), None)}
    ms = {name: [] for name in kinds}
    wrong = Counter()
    for name, (session, _) in kinds.items():
        for _ in range(20):  # warm: connection open, model loaded in both workers
            session.predict(png)
    for _ in range(-(-args.requests // args.block)):
        for name, (session, version) in kinds.items():
            for _ in range(args.block):
                answer, took = session.predict(png)
                ms[name].append(took)
                if answer["personal"] != (version is not None) or (version and answer["model_version"] != version):
                    wrong[name] += 1
    shared.close()
    rows = {name: {"requests": len(values), "wrong_model": wrong[name], **summarise(np.array(values), "client_")}
            for name, values in ms.items()}
    gap = rows["personal model"]["client_p50_ms"] - rows["shared, with a session"]["client_p50_ms"]
    return {"rows": rows, "p50_gap_ms": gap, "block": args.block}


# --- 2. memory with many personal models --------------------------------------------------------------------

def more_sessions(site, count: int, seed: int) -> list[PersonalSession]:
    """``count`` new sessions the site made, each having saved one drawing."""
    made = []
    for sample in iter_pen_digits(count, seed, ["8 two loops"]):
        session = PersonalSession(site.port).open()
        session.save([sample])
        made.append(session)
    return made


def give_copies(site, sessions: list[PersonalSession], sources: list[int]) -> dict[str, int]:
    plan = [[session.key, sources[k % len(sources)]] for k, session in enumerate(sessions)]
    return json.loads(manage_shell({**site.env, "BENCH_COPIES": json.dumps(plan)}, COPIES).splitlines()[-1])


def predict_together(sessions: list[tuple[PersonalSession, int]], png: bytes, count: int) -> dict:
    """Every session predicts ``count`` times, all at once; each answer checked against its own version."""
    start = threading.Barrier(len(sessions) + 1)
    ms, problems = [], Counter()

    def client(session: PersonalSession, version: int) -> None:
        start.wait()
        for _ in range(count):
            try:
                answer, took = session.predict(png)
            except (ApiError, OSError) as exc:
                problems[type(exc).__name__] += 1
                continue
            ms.append(took)
            if not answer["personal"] or answer["model_version"] != version:
                problems["not its own personal model"] += 1

    threads = [threading.Thread(target=client, args=pair, daemon=True) for pair in sessions]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join(timeout=300)
    return {"sessions": len(sessions), "predictions": len(ms), "problems": dict(problems),
            "seconds": time.perf_counter() - began, **summarise(np.array(ms), "client_")}


def many_models(site, trained: list[tuple[PersonalSession, int]], png: bytes, args, memory: MemorySampler) -> dict:
    extra = more_sessions(site, args.sessions - len(trained), args.seed + 100)
    copies = give_copies(site, extra, [version for _, version in trained])
    sessions = trained + [(session, copies[session.key]) for session in extra]
    offset = (site.tmp / "gunicorn.log").stat().st_size
    memory.phase = f"{len(sessions)} sessions predicting"
    together = predict_together(sessions, png, args.predictions)
    loads, _ = loads_since(site.tmp / "gunicorn.log", offset)
    for session, _ in sessions:
        session.close()
    return {**together, "trained": len(trained), "copies": len(copies), "model_loads_logged": loads,
            "distinct_versions": len({version for _, version in sessions})}


def measure(args: argparse.Namespace) -> dict:
    png, _ = canvas_png()
    env = {"PERSONAL_MODEL_CACHE": str(args.cache), "LOG_LEVEL": "INFO"}
    with running_site(args.checkpoint, 2, 4, extra_env=env) as site:
        memory = MemorySampler(site.gunicorn.pid)
        memory.start()
        worker, warm_up_s = start_ready_worker(site)
        memory.watch(worker.pid, "training worker")
        try:
            memory.phase = "training"
            trained = train_sessions(site, args.trained, png, args.seed)
            memory.phase = "latency"
            timed = latency(site, trained[0], png, args)
            print("  latency measured", flush=True)
            crowd = many_models(site, trained, png, args, memory)
            mapped = {pid: mapped_libraries(pid) for pid in children(site.gunicorn.pid)}
            logs = scan_logs(site.tmp)
            processes = memory.finish()
        finally:
            stop_process(worker, grace=10)
    return {"warm_up_s": warm_up_s, "latency": timed, "many_models": crowd, "processes": processes,
            "web_worker_libraries": mapped, "logs": logs}


def mapped_libraries(pid: int) -> dict:
    """What of a web worker's resident memory is mapped files: all of them, those only a CUDA build of PyTorch
    brings, and the largest few (MiB)."""
    files = resident_by_file(pid)
    return {"files_mib": sum(files.values()),
            "gpu_libraries_mib": sum(mib for path, mib in files.items() if GPU_LIBRARIES.search(path)),
            "torchvision_loaded": any("torchvision" in path for path in files),
            "largest": {path.rsplit("site-packages/", 1)[-1]: round(mib, 1) for path, mib in list(files.items())[:6]}}


def report(found: dict, args: argparse.Namespace) -> dict:
    timed, crowd = found["latency"], found["many_models"]
    print(f"\nPREDICTION LATENCY, one client, alternating blocks of {timed['block']} (client-side ms, keep-alive)")
    print(f"{'':<24} {'requests':>8} {'wrong model':>11} {'p50':>7} {'p90':>7} {'p99':>7} {'mean':>7}")
    for name, r in timed["rows"].items():
        print(f"{name:<24} {r['requests']:>8} {r['wrong_model']:>11} {fmt(r['client_p50_ms'], '7.2f')} "
              f"{fmt(r['client_p90_ms'], '7.2f')} {fmt(r['client_p99_ms'], '7.2f')} {fmt(r['client_mean_ms'], '7.2f')}")
    print(f"\n{crowd['sessions']} SESSIONS ON {crowd['distinct_versions']} PERSONAL MODELS ({crowd['trained']} trained "
          f"through the API, {crowd['copies']} stored through the Django shell as nudged copies of those; "
          f"PERSONAL_MODEL_CACHE={args.cache}): {crowd['predictions']} predictions in {crowd['seconds']:.1f} s, "
          f"p50 {fmt(crowd['client_p50_ms'], '.1f')} ms, p99 {fmt(crowd['client_p99_ms'], '.1f')} ms, problems "
          f"{crowd['problems'] or 'none'}; model loads logged by the web workers: {crowd['model_loads_logged']}")
    print(f"\nMEMORY (MiB)\n{'process':<18} {'pid':>7} {'max RSS':>8} {'VmHWM':>8} {'max anon':>8} {'max file':>8}  "
          "max RSS by phase")
    for p in found["processes"]:
        phases = ", ".join(f"{phase} {rss:.0f}" for phase, rss in p["by_phase"].items())
        print(f"{p['role']:<18} {p['pid']:>7} {p['max_rss_mib']:>8.1f} {p['hwm_mib']:>8.1f} {p['max_anon_mib']:>8.1f} "
              f"{p['max_file_mib']:>8.1f}  {phases}")
    for pid, libraries in found["web_worker_libraries"].items():
        print(f"web worker {pid}: {libraries['files_mib']:.0f} MiB of mapped files, {libraries['gpu_libraries_mib']:.0f} "
              f"of them CUDA and Triton libraries (PyTorch's CUDA build; none in a CPU-only wheel); torchvision "
              f"loaded: {libraries['torchvision_loaded']}; largest: "
              + ", ".join(f"{path.rsplit('/', 1)[-1]} {mib:.0f}" for path, mib in libraries["largest"].items()))
    web = [p for p in found["processes"] if p["role"] == "web worker"]
    peak = max((max(p["max_rss_mib"], p["hwm_mib"]) for p in web), default=None)
    gap = timed["p50_gap_ms"]
    gpu = max((libraries["gpu_libraries_mib"] for libraries in found["web_worker_libraries"].values()), default=0.0)
    checks = {
        "p50_gap_ms": gap, "latency_pass": abs(gap) <= TARGET_P50_GAP_MS
        and not any(r["wrong_model"] for r in timed["rows"].values()),
        "web_worker_peak_mib": peak, "cuda_triton_libraries_mib": gpu,
        "memory_pass": peak is not None and peak < WEB_WORKER_LIMIT_MIB and not crowd["problems"]
        and crowd["predictions"] == crowd["sessions"] * args.predictions,
    }
    checks["pass"] = checks["latency_pass"] and checks["memory_pass"]
    print(f"\n{'PASS' if checks['latency_pass'] else 'FAIL'}: personal p50 - shared p50 = {gap:+.2f} ms "
          f"(target within {TARGET_P50_GAP_MS:.0f} ms; every answer from the expected model)")
    print(f"{'PASS' if checks['memory_pass'] else 'FAIL'}: web worker peak resident {fmt(peak, '.1f')} MiB with "
          f"{crowd['sessions']} sessions on their own personal models (limit 1 GB = {WEB_WORKER_LIMIT_MIB:.1f} MiB; "
          f"every answer from the session's own model); {fmt(peak and peak - gpu, '.0f')} MiB without the "
          f"{gpu:.0f} MiB of CUDA and Triton libraries")
    print(f"RESULT: {'PASS' if checks['pass'] else 'FAIL'}")
    return checks


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def finish(found: dict) -> dict:
        checks = report(found, args)
        return {"settings": {"site_env": {**SITE_SETTINGS, "PERSONAL_MODEL_CACHE": args.cache, "LOG_LEVEL": "INFO"},
                             "trained": args.trained, "sessions": args.sessions, "requests": args.requests,
                             "block": args.block, "predictions_per_session": args.predictions, "seed": args.seed,
                             "gunicorn": "2 workers x 4 threads (gthread)",
                             "copies": "personal models beyond the trained ones: nudged copies stored through the shell"},
                **found, "memory_limit_mib": WEB_WORKER_LIMIT_MIB, "checks": checks}

    return run_benchmark("personal_serving", argv, args, measure, finish)


if __name__ == "__main__":
    sys.exit(main())
