"""Latency benchmark: /api/predict against the trivial /api/health view of the same site under gunicorn.

    .venv/bin/python -m bench.predict_latency [--seconds 10] [--workers 2] [--threads 4]

Sets up a throwaway site (temp SQLite database, model and media folders, DEBUG off), migrates it (which
registers the shipped base model) and activates ``--checkpoint``, starts gunicorn on 127.0.0.1 at a free port,
warms every worker up, then, for each endpoint and 1 and 8 concurrent clients, runs keep-alive clients (one
http.client connection per thread) for ``--seconds`` or ``--max-requests``, whichever ends first.

Latency is measured twice: at the client (time.perf_counter around request + full response read, on
loopback), which the targets are judged on, and inside gunicorn (its access log's %(D)s, request time in
microseconds). The CPU time per request of gunicorn's processes and of the client threads comes from
/proc; once the cores are saturated it predicts the throughput ratio, printed beside the measured one.
Targets: predict p50 <= 5 ms at 1 client; predict throughput >= 50 % of the trivial view's at 8 clients.
Prints a table and PASS/FAIL, writes bench/results/predict_latency.json. gunicorn is stopped by PID and the
temp folder deleted on every exit path, Ctrl-C and SIGTERM included. Exits 0 unless the site cannot start.
"""

import argparse
import datetime
import os
import statistics
import sys
from pathlib import Path

import torch
from PIL import features

from bench.accuracy import MAX_PIXELS
from bench.harness.client import HEALTH, Endpoint, canvas_png, predict_data_url, predict_multipart
from bench.harness.loadgen import measure_row, ratios_to_health, sanity_check, server_argument_parser, warm_up
from bench.harness.processes import Site, checkpoint_found, running_site, unwind_on_sigterm
from bench.harness.results import RESULTS, code_state, fmt, machine_info, pass_fail, write_result
from bench.network_latency import timings_ms
from recognizer.ml.checkpoints import file_sha256, load_checkpoint
from recognizer.ml.network import for_serving
from recognizer.ml.preprocessing import decode_image, prepare_digit, to_model_input

TARGET_P50_MS = 5.0
TARGET_THROUGHPUT_RATIO = 0.5


def endpoints(png: bytes, *, data_url: bool) -> list[Endpoint]:
    found = [HEALTH, predict_multipart(png)]
    if data_url:
        found.append(predict_data_url(png))
    return found


# --- measuring ---------------------------------------------------------------------------------------------

def unavoidable_cost(png: bytes, checkpoint: Path, repeats: int = 500) -> dict:
    """What every prediction of this PNG must spend whatever the code around it does: decoding the PNG and one
    forward pass of the served network on one thread, as median milliseconds, measured in this process before
    the site starts (the cores are quiet then)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as a web worker (INFERENCE_THREADS)
    try:
        network = for_serving(load_checkpoint(checkpoint)[0])
        batch = to_model_input(prepare_digit(png, max_pixels=MAX_PIXELS)).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            forward_ms = statistics.median(timings_ms(lambda: network(batch), repeats))
    finally:
        torch.set_num_threads(threads)
    decode_ms = statistics.median(timings_ms(lambda: decode_image(png, max_pixels=MAX_PIXELS), repeats))
    # Inflating the PNG is most of the decode; Pillow's Linux wheels inflate with the system's zlib.
    return {"decode_png_ms": decode_ms, "forward_ms": forward_ms, "repeats": repeats,
            "zlib": features.version("zlib")}


def measure(site: Site, endpoints_: list[Endpoint], args: argparse.Namespace) -> list[dict]:
    rows = []
    offset = site.access_log.stat().st_size
    for clients in args.clients:
        for endpoint in endpoints_:
            row, offset = measure_row(site, endpoint, clients, args.seconds, args.max_requests, offset)
            rows.append(row)
            print(f"  measured {endpoint.name} x{clients}: {row['requests']} requests", flush=True)
    return rows


# --- report ------------------------------------------------------------------------------------------------

def print_table(rows: list[dict]) -> None:
    print(f"\n{'endpoint':<22} {'clients':>7} {'requests':>8} {'errors':>6} {'req/s':>8} "
          f"{'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'mean ms':>7} | {'srv p50':>7} {'srv p99':>7} | "
          f"{'srv cpu':>7} {'cli cpu':>7}")
    for r in rows:
        print(f"{r['endpoint']:<22} {r['clients']:>7} {r['requests']:>8} {r['errors']:>6} {r['throughput_rps']:>8.1f} "
              f"{fmt(r['client_p50_ms'], '7.2f')} {fmt(r['client_p90_ms'], '7.2f')} "
              f"{fmt(r['client_p99_ms'], '7.2f')} {fmt(r['client_mean_ms'], '7.2f')} | "
              f"{fmt(r['server_p50_ms'], '7.2f')} {fmt(r['server_p99_ms'], '7.2f')} | "
              f"{r['server_cpu_ms_per_request']:>7.2f} {r['client_cpu_ms_per_request']:>7.2f}")
    print("(p50/p90/p99/mean: at the client, request sent to response read, loopback, keep-alive; "
          "srv: gunicorn's own request time, %(D)s; srv cpu / cli cpu: CPU ms per request used by gunicorn's "
          "processes / by the client threads)")


def cpu_bound_ratio(rows: list[dict], predict: str, clients: int, unavoidable: dict) -> dict | None:
    """When the cores are saturated, throughput is the cores over the CPU one request costs, clients included:
    the throughput ratio this predicts from the measured CPU costs, to set beside the measured one, and the
    best ratio any code could reach: the trivial view's cost plus only the unavoidable decode and forward pass."""
    health = next((r for r in rows if r["endpoint"] == HEALTH.name and r["clients"] == clients), None)
    other = next((r for r in rows if r["endpoint"] == predict and r["clients"] == clients), None)
    if health is None or other is None:
        return None
    cost = {name: r["server_cpu_ms_per_request"] + r["client_cpu_ms_per_request"]
            for name, r in (("health", health), ("predict", other))}
    model = {"clients": clients, "health_cpu_ms_per_request": cost["health"],
             "predict_cpu_ms_per_request": cost["predict"], "ratio_from_cpu": cost["health"] / cost["predict"],
             "predict_cpu_ms_for_target": cost["health"] / TARGET_THROUGHPUT_RATIO}
    unavoidable_ms = unavoidable["decode_png_ms"] + unavoidable["forward_ms"]
    model["best_possible_ratio"] = cost["health"] / (cost["health"] + unavoidable_ms)
    print(f"\nCPU per request at {clients} clients, server + client: health {cost['health']:.2f} ms, predict "
          f"{cost['predict']:.2f} ms -> a CPU-bound throughput ratio of {model['ratio_from_cpu']:.1%}; "
          f"{TARGET_THROUGHPUT_RATIO:.0%} would need predict at {model['predict_cpu_ms_for_target']:.2f} ms.")
    print(f"Unavoidable per prediction (measured before the site started): decoding the PNG with zlib "
          f"{unavoidable['zlib']} {unavoidable['decode_png_ms']:.2f} ms + one forward pass "
          f"{unavoidable['forward_ms']:.2f} ms. Even if everything else cost nothing, the ratio could not exceed "
          f"{model['best_possible_ratio']:.1%}.")
    return model


def ratios(rows: list[dict]) -> list[dict]:
    found = ratios_to_health(rows)
    print(f"\n{'ratio vs ' + HEALTH.name:<40} {'clients':>7} {'p50 x':>7} {'p99 x':>7} {'throughput':>10}")
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
    print(f"\ntarget predict p50 <= {TARGET_P50_MS:.0f} ms at 1 client: {pass_fail(checks['predict_p50_met'])} "
          f"({fmt(checks['predict_p50_ms_at_1_client'], '.2f')} ms)")
    print(f"target predict throughput >= {TARGET_THROUGHPUT_RATIO:.0%} of the trivial view's at 8 clients: "
          f"{pass_fail(checks['throughput_ratio_met'])} ({fmt(checks['throughput_ratio_at_8_clients'], '.1%')})")
    if errors:
        print(f"WARNING: {errors} requests failed (non-200 or connection error)")
    checks["pass"] = bool(checks["predict_p50_met"] and checks["throughput_ratio_met"] and not errors)
    print(f"RESULT: {'PASS' if checks['pass'] else 'FAIL'}")
    return checks


# --- main --------------------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = server_argument_parser(__doc__.splitlines()[0], clients=[1, 8])
    parser.add_argument("--seconds", type=float, default=10.0, help="per endpoint and concurrency (default 10)")
    parser.add_argument("--max-requests", type=int, default=20000, help="per endpoint and concurrency")
    parser.add_argument("--no-data-url", dest="data_url", action="store_false",
                        help="skip the third row, predict with a JSON data URL")
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not checkpoint_found(args.checkpoint):
        return 2
    unwind_on_sigterm()
    png, label = canvas_png()
    endpoints_ = endpoints(png, data_url=args.data_url)
    print(f"canvas: 280x280 RGBA PNG, {len(png)} bytes, digit {label}. NOTE: this machine has {os.cpu_count()} "
          f"cores, shared by the clients and the server (load average {os.getloadavg()[0]:.2f} now).")
    machine = machine_info()
    unavoidable = unavoidable_cost(png, args.checkpoint)
    with running_site(args.checkpoint, args.workers, args.threads) as site:
        answer = sanity_check(site, endpoints_[1], label)
        warm_up(site.port, endpoints_, args.workers, args.threads)
        rows = measure(site, endpoints_, args)

    print_table(rows)
    found = ratios(rows)
    checks = judge(rows, found, endpoints_[1].name)
    cpu_model = cpu_bound_ratio(rows, endpoints_[1].name, max(args.clients), unavoidable)
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
        "rows": rows, "ratios": found, "checks": checks, "cpu_model": cpu_model, "unavoidable": unavoidable,
        "machine": {**machine, "load_average_after": os.getloadavg()}, "code": code_state(),
    }
    write_result(args.out, "predict_latency.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
