"""What a benchmark measured and where: the machine and commit, the JSON result file, and the figures its rows
are made of (percentiles, shares, a training run's metrics) and how the reports print them."""

import json
import os
import platform
import subprocess
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent.parent
RESULTS = ROOT / "bench" / "results"


def machine_info(*, libraries: bool = False) -> dict:
    """The machine and Python measured on. With ``libraries`` (the in-process benchmarks) also the processor,
    torch's thread count and the versions of torch, numpy, Pillow and SciPy, imported only then; without, a
    note that the HTTP clients and the servers share the cores."""
    info = {"platform": platform.platform(), "machine": platform.machine(), "python": platform.python_version(),
            "cpu_count": os.cpu_count(), "load_average": os.getloadavg()}
    if not libraries:
        return {**info, "note": "the client threads and the gunicorn workers share these cores"}
    import PIL
    import scipy
    import torch
    return {**info, "processor": platform.processor(), "torch_threads": torch.get_num_threads(),
            "versions": {"torch": torch.__version__, "numpy": np.__version__, "pillow": PIL.__version__,
                         "scipy": scipy.__version__}}


def code_state() -> dict:
    """The commit measured and any uncommitted changes to files the benchmarks exercise."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.rstrip() if done.returncode == 0 else ""

    return {"commit": git("rev-parse", "HEAD"),
            "uncommitted": git("status", "--porcelain", "--", "recognizer", "mnistsite", "bench").splitlines()}


def write_result(out_dir: Path, name: str, result: dict) -> Path:
    """Write a benchmark's JSON result to out_dir/name and say where."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {path}")
    return path


def summarise(ms: np.ndarray, prefix: str) -> dict:
    if ms.size == 0:
        return {f"{prefix}{k}": None for k in ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "max_ms")}
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return {f"{prefix}p50_ms": float(p50), f"{prefix}p90_ms": float(p90), f"{prefix}p99_ms": float(p99),
            f"{prefix}mean_ms": float(ms.mean()), f"{prefix}max_ms": float(ms.max())}


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def run_figures(metrics: dict) -> dict:
    """What a finished run's metrics say, without per-digit detail: the gate's verdict, MNIST validation and
    held-out accuracy before and after, and the seconds each stage took."""
    def before_after(key: str) -> dict:
        return {when: (metrics.get(key) or {}).get(when) for when in ("before", "after")}

    return {"gate": metrics.get("gate"), "accepted": metrics.get("accepted"),
            "mnist_validation": before_after("mnist_validation"), "held_out": before_after("held_out"),
            "held_out_count": (metrics.get("held_out") or {}).get("count"), "stage_seconds": metrics.get("seconds")}


def pass_fail(ok: bool | None) -> str:
    return "not measured" if ok is None else ("PASS" if ok else "FAIL")


def fmt(value, spec: str) -> str:
    """``value`` formatted by ``spec``, or "-" for None (not measured)."""
    return "-" if value is None else format(value, spec)
