"""How long one DigitNet forward pass takes on the CPU: batch of 1, one thread and all threads.

Target (the foundation issue): at most 1 ms for one image on one CPU thread. Floor in the same run: a single
28x28 -> 10 linear layer, so the ratio says how much the network costs beyond PyTorch's call overhead. The
network is timed as stored and as served (BatchNorm folded, channels-last: recognizer.ml.network.for_serving).

    .venv/bin/python -m bench.network_latency [--repeats 2000] [--checkpoint recognizer/weights/base.pt]
"""

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from bench.harness.processes import DEFAULT_CHECKPOINT
from bench.harness.results import RESULTS, write_result
from recognizer.ml.checkpoints import load_checkpoint
from recognizer.ml.network import for_serving

TARGET_MS = 1.0


def timings_ms(work: Callable[[], object], repeats: int) -> list[float]:
    """Milliseconds each of ``repeats`` calls of ``work`` took, after 50 unmeasured calls."""
    for _ in range(50):  # warm-up: oneDNN builds its kernels on the first calls
        work()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": statistics.median(ordered), "p99_ms": ordered[int(0.99 * (len(ordered) - 1))],
            "mean_ms": statistics.fmean(ordered)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2000)
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    args = parser.parse_args()
    network, _ = load_checkpoint(args.checkpoint)
    served = for_serving(load_checkpoint(args.checkpoint)[0])
    floor = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(28 * 28, 10)).eval()
    image = torch.randn(1, 1, 28, 28)
    models = (("linear floor", floor, image), ("DigitNet", network, image),
              ("DigitNet served", served, image.contiguous(memory_format=torch.channels_last)))
    rows = []
    for threads in sorted({1, os.cpu_count() or 1}):
        torch.set_num_threads(threads)
        for name, model, batch in models:
            with torch.inference_mode():
                timings = timings_ms(lambda: model(batch), args.repeats)
            rows.append({"model": name, "threads": threads, **summary(timings)})
    print(f"{network.architecture}; served: BatchNorm folded into the convolutions, channels-last, as the site does")
    print(f"{'model':<16}{'threads':>8}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
    for row in rows:
        print(f"{row['model']:<16}{row['threads']:>8}"
              f"{row['p50_ms']:>10.3f}{row['p99_ms']:>10.3f}{row['mean_ms']:>10.3f}")
    one_thread = next(r for r in rows if r["model"] == "DigitNet served" and r["threads"] == 1)
    floor_one = next(r for r in rows if r["model"] == "linear floor" and r["threads"] == 1)
    passed = one_thread["p50_ms"] <= TARGET_MS
    print(f"DigitNet served / floor at 1 thread: {one_thread['p50_ms'] / floor_one['p50_ms']:.1f}x")
    print(f"target p50 <= {TARGET_MS} ms on one thread: {'PASS' if passed else 'FAIL'} ({one_thread['p50_ms']:.3f} ms)")
    write_result(RESULTS, "network_latency.json",
                 {"architecture": network.architecture, "rows": rows, "target_ms": TARGET_MS, "passed": passed,
                  "repeats": args.repeats,
                  "torch": str(torch.__version__), "machine": platform.platform(), "cpus": os.cpu_count(),
                  "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S")})


if __name__ == "__main__":
    main()
