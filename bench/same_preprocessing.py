"""Does a change to preprocessing change what the network sees? The working tree's prepare_digit against another
revision's, bit for bit, on the accuracy benches' own drawings.

    .venv/bin/python -m bench.same_preprocessing --against 9f51d59 [--robustness 300] [--styles 60]

Loads ``recognizer/ml/preprocessing.py`` as it was at ``--against`` (``git show``, no checkout) beside today's,
and sends both the canvas-robustness set (training/ml/canvas.py, every encoding, the robustness bench's seed) and
the handwriting-styles set (bench/pen_digits.py, the styles bench's seed). For each drawing it compares the
28x28 digit byte for byte, or the refusal's message. Identical digits mean identical answers from any model,
so the robustness and styles figures cannot move. Also times both versions' prepare_digit over the whole set.
Prints a table, writes bench/results/same_preprocessing.json.
"""

import argparse
import datetime
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from bench.accuracy import MAX_PIXELS
from bench.harness.results import RESULTS, ROOT, code_state, machine_info, write_result
from bench.pen_digits import iter_pen_digits
from recognizer.ml import preprocessing as today
from training.ml.canvas import iter_robustness_set

ROBUSTNESS_SEED = 20240601  # bench.robustness's default
STYLES_SEED = 20261121      # bench.handwriting_styles's default


def preprocessing_at(revision: str) -> ModuleType:
    """recognizer/ml/preprocessing.py as it was at ``revision``, imported under another name."""
    source = subprocess.run(["git", "show", f"{revision}:recognizer/ml/preprocessing.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(source)
    spec = importlib.util.spec_from_file_location(f"preprocessing_at_{revision}", handle.name)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "recognizer.ml"  # its relative imports (decoding, decode_budget) come from this tree
    spec.loader.exec_module(module)
    Path(handle.name).unlink()
    return module


def seen(module: ModuleType, data: bytes) -> bytes | str:
    """The 28x28 digit's bytes, or the refusal's message."""
    try:
        return module.prepare_digit(data, max_pixels=MAX_PIXELS).tobytes()
    except module.InvalidImage as exc:
        return f"refused: {exc}"


def compare(before: ModuleType, drawings: Iterator[tuple[str, bytes]]) -> dict:
    total, differing, seconds = 0, Counter(), {"before": 0.0, "today": 0.0}
    for kind, data in drawings:
        started = time.perf_counter()
        old = seen(before, data)
        middle = time.perf_counter()
        new = seen(today, data)
        seconds["before"] += middle - started
        seconds["today"] += time.perf_counter() - middle
        total += 1
        if old != new:
            differing[kind] += 1
    return {"drawings": total, "identical": total - sum(differing.values()), "differing_by_kind": dict(differing),
            "prepare_seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", required=True, help="the git revision to compare with")
    parser.add_argument("--robustness", type=int, default=300, help="robustness drawings per encoding")
    parser.add_argument("--styles", type=int, default=60, help="pen drawings per handwriting style")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    before = preprocessing_at(args.against)
    sets = {
        f"robustness --count {args.robustness}": ((s.encoding, s.data)
                                                  for s in iter_robustness_set(args.robustness, ROBUSTNESS_SEED)),
        f"handwriting styles --count {args.styles}": ((s.style, s.data)
                                                      for s in iter_pen_digits(args.styles, STYLES_SEED)),
    }
    found = {}
    print(f"{'set':<32} {'drawings':>8} {'identical':>9} {'prep s before':>13} {'prep s today':>12}  differing")
    for name, drawings in sets.items():
        row = found[name] = compare(before, drawings)
        print(f"{name:<32} {row['drawings']:>8} {row['identical']:>9} {row['prepare_seconds']['before']:>13.1f} "
              f"{row['prepare_seconds']['today']:>12.1f}  {row['differing_by_kind'] or 'none'}")
    same = all(row["identical"] == row["drawings"] for row in found.values())
    print(f"RESULT: {'the network sees the same digit in every drawing' if same else 'some drawings differ'}")
    write_result(args.out, "same_preprocessing.json", {
        "benchmark": "same-preprocessing", "timestamp": datetime.datetime.now(datetime.UTC).isoformat(),
        "against": args.against, "seeds": {"robustness": ROBUSTNESS_SEED, "styles": STYLES_SEED}, "sets": found,
        "identical": same, "code": code_state(), "machine": machine_info(libraries=True),
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
