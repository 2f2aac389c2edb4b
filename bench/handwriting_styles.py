"""Handwriting-styles benchmark: accuracy per style of the real preprocessing + network on pen-drawn digits.

    .venv/bin/python -m bench.handwriting_styles --count 200 --checkpoint recognizer/weights/base.pt

bench.pen_digits draws each style (a flagged 1, a crossed 7, an open 4, an 8 of two loops...) with a round pen
as the page's canvas posts it. Every sample goes through exactly what /api/predict does (prepare_digit ->
to_model_input -> DigitNet). Prints accuracy, mean confidence and the commonest misreadings per style, and
PASS/FAIL against our own targets (>= 98 % overall, no style below 95 %; the issue sets none for styles),
writes bench/results/handwriting_styles.json and contact sheets of samples and of failures. Exits 0 whatever
the accuracy; 2 when the checkpoint cannot be loaded.
"""

import io
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.accuracy import (
    MAX_PIXELS, SMALL, contact_sheet, digit_tile, load_network, parse_args, thumbnail, write_accuracy_result,
)
from bench.pen_digits import STYLES, PenSample, iter_pen_digits
from recognizer.ml.preprocessing import InvalidImage, prepare_digit, to_model_input
from recognizer.ml.reader import NOT_A_DIGIT
from recognizer.ml.reader import read as read_batch

TARGET_OVERALL = 0.98
TARGET_PER_STYLE = 0.95
SHEET_PER_STYLE = 2
SHEET_MAX_FAILURES = 48


@dataclass
class StyleTally:
    n: int = 0
    correct: int = 0
    rejected: int = 0
    not_a_digit: int = 0      # answered "not a digit": counted as wrong
    confidence: float = 0.0   # summed over the answers, for the mean
    confusions: Counter = field(default_factory=Counter)  # predicted digit -> count, wrong answers only

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else float("nan")


@dataclass
class Read:
    sample: PenSample
    ordinal: int              # 1 for the first sample of its style, 2 for the next...
    digit: np.ndarray | None  # what the network saw, or None when refused
    predicted: int | None = None
    confidence: float = 0.0
    verdict: str = ""

    @property
    def wrong(self) -> bool:
        return self.predicted != self.sample.label or self.verdict == NOT_A_DIGIT


def read_all(network: torch.nn.Module, samples: list[PenSample]) -> list[Read]:
    seen: Counter = Counter()
    reads, inputs = [], []
    for sample in samples:
        seen[sample.style] += 1
        try:
            digit = prepare_digit(sample.data, max_pixels=MAX_PIXELS)
        except InvalidImage:
            digit = None
        reads.append(Read(sample, seen[sample.style], digit))
        if digit is not None:
            inputs.append(to_model_input(digit))
    if inputs:
        answered = (r for r in reads if r.digit is not None)
        for read, reading in zip(answered, read_batch(network, torch.cat(inputs))):
            read.predicted, read.confidence, read.verdict = reading.digit, reading.confidence, reading.verdict
    return reads


def tally(reads: list[Read]) -> dict[str, StyleTally]:
    tallies = {style: StyleTally() for style in STYLES}
    for read in reads:
        t = tallies[read.sample.style]
        t.n += 1
        if read.digit is None:
            t.rejected += 1
            continue
        t.confidence += read.confidence
        t.not_a_digit += read.verdict == NOT_A_DIGIT
        if read.wrong:
            t.confusions["no digit" if read.verdict == NOT_A_DIGIT else read.predicted] += 1
        else:
            t.correct += 1
    return tallies


def report(tallies: dict[str, StyleTally]) -> dict:
    total = sum(t.n for t in tallies.values())
    overall = sum(t.correct for t in tallies.values()) / total
    print(f"{'style':<18} {'n':>5} {'accuracy':>9} {'rejected':>9} {'mean conf':>9}  misread as")
    for style, t in tallies.items():
        answered = t.n - t.rejected
        misread = ", ".join(f"{digit} x{count}" for digit, count in t.confusions.most_common(3))
        flag = "" if t.accuracy >= TARGET_PER_STYLE else f"  <-- below {TARGET_PER_STYLE:.0%}"
        print(f"{style:<18} {t.n:>5} {t.accuracy:>9.2%} {t.rejected:>9} {t.confidence / max(answered, 1):>9.3f}  "
              f"{misread}{flag}")
    worst = min(tallies, key=lambda s: tallies[s].accuracy)
    checks = {"overall_met": overall >= TARGET_OVERALL, "per_style_met": tallies[worst].accuracy >= TARGET_PER_STYLE}
    checks["pass"] = checks["overall_met"] and checks["per_style_met"]
    not_a_digit = sum(t.not_a_digit for t in tallies.values())
    print(f"{'overall':<18} {total:>5} {overall:>9.2%}   answered 'not a digit': {not_a_digit} "
          f"({not_a_digit / total:.2%})")
    print(f"target overall >= {TARGET_OVERALL:.0%}: {'PASS' if checks['overall_met'] else 'FAIL'}; every style >= "
          f"{TARGET_PER_STYLE:.0%}: {'PASS' if checks['per_style_met'] else 'FAIL'} (worst {worst} "
          f"{tallies[worst].accuracy:.2%})")
    print(f"RESULT: {'PASS' if checks['pass'] else 'FAIL'}")
    return {
        "overall_accuracy": overall, "n": total, "worst_style": worst, "not_a_digit": not_a_digit,
        "per_style": {style: {"label": STYLES[style][0], "n": t.n, "correct": t.correct, "accuracy": t.accuracy,
                              "rejected": t.rejected, "not_a_digit": t.not_a_digit, "mean_confidence": t.confidence / max(t.n - t.rejected, 1),
                              "misread_as": {str(k): v for k, v in t.confusions.items()}}
                      for style, t in tallies.items()},
        "targets": {"overall": TARGET_OVERALL, "per_style": TARGET_PER_STYLE, **checks},
    }


def _pair(read: Read) -> list[tuple[Image.Image, str]]:
    size = Image.open(io.BytesIO(read.sample.data)).size
    verdict = ("refused" if read.digit is None else "-> no digit" if read.verdict == NOT_A_DIGIT
               else f"-> {read.predicted} ({read.confidence:.0%})")
    return [(thumbnail(read.sample.data), read.sample.style),
            (digit_tile(read.digit), f"{size[0]}x{size[1]} {verdict}")]


def save_sheets(reads: list[Read], directory: Path) -> tuple[Path, Path]:
    samples, failures = directory / "handwriting_styles_samples.png", directory / "handwriting_styles_failures.png"
    rows = [[cell for r in reads if r.sample.style == style and r.ordinal <= SHEET_PER_STYLE for cell in _pair(r)]
            for style in STYLES]
    contact_sheet(rows, "pen-drawn canvas as posted | what the network saw").save(samples)
    failed = [r for r in reads if r.wrong][:SHEET_MAX_FAILURES]
    rows = [[cell for r in failed[i: i + 4] for cell in _pair(r)] for i in range(0, len(failed), 4)]
    contact_sheet(rows or [[(Image.new("RGB", (SMALL, SMALL), "white"), "no failures")]],
                  "failures: canvas | what the network saw").save(failures)
    return samples, failures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv, unit="style", count=200, seed=20261121)
    checkpoint = load_network(args)
    if checkpoint is None:
        return 2
    started = time.perf_counter()
    reads = read_all(checkpoint.network, list(iter_pen_digits(args.count, args.seed)))
    summary = report(tally(reads))
    seconds = time.perf_counter() - started
    print(f"time: {seconds:.1f} s")
    args.out.mkdir(parents=True, exist_ok=True)
    write_accuracy_result(args, argv, checkpoint, benchmark="handwriting-styles", module="handwriting_styles",
                          fields={"count_per_style": args.count, "styles": list(STYLES), **summary,
                                  "seconds": seconds},
                          sheets=save_sheets(reads, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
