"""Unseen writers: how the shared model and personal models read handwriting from writers the model never saw.

    .venv/bin/python -m bench.writers                     # the report split: --test 20 --sizes 20,200, ~13 minutes
    .venv/bin/python -m bench.writers --split tune --writers 4 --test 10 --sizes 20

The writers are not MNIST (bench/font_writers.py): Hershey stroke fonts, handwriting-like TrueType/OpenType
fonts from Debian packages and pen writers of bench/pen_digits.py with hands used nowhere else, each drawn with
the page's pen on the page's canvas with the writer's own natural variation. They are split once into two fixed,
disjoint sets: ``--split tune`` is for choosing hyperparameters on; ``--split report`` (the default) only for
reporting what a change did, so that its figure is not one the change was tuned on.

A throwaway site (bench/harness: gunicorn 2 workers x 4 threads, rate limit off, the per-network daily sample
limit raised, every other setting the site's default) and a real training worker. For each writer:

1. ``--test`` drawings of each digit from a seed of their own, never saved, are sent to /api/predict without
   cookies: the shared model.
2. For each size N of ``--sizes`` (20 and 200: 2 and 20 of each digit), a fresh session saves N other drawings
   of the writer (a seed per size) over HTTP, posts Train (POST /api/train) and polls the run until it ends:
   the seconds from the POST to the final status, the gate's verdict and the run's own figures (its held-out
   drawings, a fifth of each digit's with at least 5, before and after; MNIST validation). Then the same test
   drawings are sent with the session's cookie: its personal model, when the gate let it through (a rejected
   run leaves the session on the shared model, and the answers say so).

A drawing is read right when the answer's digit is its label and its verdict is not ``not_a_digit`` (an
``unsure`` answer counts as its digit); answers called no digit are counted too. No targets: this is the figure
to compare a change of personal models against, writer by writer. Writes bench/results/writers.json
(writers_tune.json for the tune split; ``--name`` for another stem) and <stem>_samples.png: a row per writer,
its name and figures, then one test drawing of each digit as posted, with what the shared model and each
personal model read.
"""

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from PIL import Image, ImageDraw

from bench.accuracy import CELL, contact_sheet, thumbnail
from bench.font_writers import SPLITS, Writer, packages, writers_of
from bench.harness.processes import DEFAULT_CHECKPOINT, SITE_SETTINGS, running_site, stop_process
from bench.harness.results import RESULTS, fmt, run_figures
from bench.pen_digits import PenSample
from bench.personal import PersonalSession, run_benchmark, start_ready_worker

NOT_A_DIGIT = "not_a_digit"
SITE_ENV = {"MAX_SAMPLES_PER_NETWORK_PER_DAY": "1000000"}  # every session saves from 127.0.0.1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=SPLITS, default="report",
                        help="which writers: tune (to choose hyperparameters on) or report (default; only to report)")
    parser.add_argument("--writers", type=int, default=None, help="only the split's first K writers (default all)")
    parser.add_argument("--test", type=int, default=20, help="held-out drawings per digit per writer (default 20)")
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[20, 200],
                        help="drawings each personal session saves, comma-separated (default 20,200)")
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--name", default=None,
                        help="the results' file name stem (default: writers for the report split, writers_tune for "
                             "the tune split)")
    args = parser.parse_args(argv)
    args.name = args.name or ("writers" if args.split == "report" else f"writers_{args.split}")
    return args


def chosen(args: argparse.Namespace) -> list[Writer]:
    return writers_of(args.split)[:args.writers]


# --- measuring -------------------------------------------------------------------------------------------------

def answers(session: PersonalSession, test: list[PenSample]) -> list[dict]:
    """What the model serving ``session`` read in each test drawing: digit, verdict, whether personal."""
    found = []
    for sample in test:
        answer, _ = session.predict(sample.data)
        found.append({"digit": answer["digit"], "verdict": answer["verdict"], "personal": answer["personal"]})
    return found


def figures(test: list[PenSample], read: list[dict]) -> dict:
    """Accuracy (a digit called no digit counts wrong), answers called no digit, and accuracy per digit."""
    right = [a["digit"] == s.label and a["verdict"] != NOT_A_DIGIT for s, a in zip(test, read)]
    per_digit = {str(d): sum(r for r, s in zip(right, test) if s.label == d) / sum(s.label == d for s in test)
                 for d in range(10)}
    return {"accuracy": sum(right) / len(right), "not_a_digit": sum(a["verdict"] == NOT_A_DIGIT for a in read),
            "digit_only_accuracy": sum(a["digit"] == s.label for s, a in zip(test, read)) / len(read),
            "per_digit": per_digit}


def personal(site, writer: Writer, size: int, test: list[PenSample]) -> tuple[dict, list[dict]]:
    """A fresh session saves ``size`` of the writer's drawings, trains and reads the test drawings."""
    train = writer.drawings(-(-size // 10), f"train-{size}")[:size]
    session = PersonalSession(site.port).open()
    try:
        session.save(train)
        followed = session.train()
        read = answers(session, test)
    finally:
        session.close()
    run, metrics = followed.run, followed.run.get("metrics") or {}
    return {"saved": size, "seed": writer.seed(f"train-{size}"), "job": followed.job, "status": run["status"],
            "error": run.get("error"), "train_seconds": followed.finished_seen - followed.posted,
            "trained_on": metrics.get("trained_on"), **run_figures(metrics),
            "all_answers_personal": all(a["personal"] for a in read), **figures(test, read)}, read


def one_writer(site, writer: Writer, args: argparse.Namespace) -> tuple[dict, dict[str, list[dict]]]:
    began = time.monotonic()
    test = writer.drawings(args.test, "test")
    anonymous = PersonalSession(site.port)
    try:
        reads = {"shared": answers(anonymous, test)}
    finally:
        anonymous.close()
    entry = {"key": writer.key, "source": writer.source, "origin": writer.origin, "package": writer.package,
             "hand": asdict(writer.hand), "styles": list(writer.styles), "test": len(test),
             "test_seed": writer.seed("test"), "shared": figures(test, reads["shared"]), "personal": {}}
    for size in args.sizes:
        entry["personal"][str(size)], reads[str(size)] = personal(site, writer, size, test)
    entry["seconds"] = time.monotonic() - began
    line = " ".join(f"p{size} {entry['personal'][str(size)]['accuracy']:.1%} "
                    f"({entry['personal'][str(size)]['train_seconds']:.1f} s)" for size in args.sizes)
    print(f"  {writer.key}: shared {entry['shared']['accuracy']:.1%}, {line}; {entry['seconds']:.0f} s", flush=True)
    return entry, {"test": test, **reads}


def measure(args: argparse.Namespace) -> tuple[dict, dict]:
    writers = chosen(args)
    missing = [writer for writer in writers if not writer.available()]
    if missing:
        raise RuntimeError(f"fonts not installed for {', '.join(w.key for w in missing)}: "
                           f"apt-get install -y {' '.join(packages(missing))}")
    found, kept = {"writers": []}, {}
    with running_site(args.checkpoint, 2, 4, extra_env=SITE_ENV) as site:
        worker, warm_up_s = start_ready_worker(site)
        try:
            for writer in writers:
                entry, kept[writer.key] = one_writer(site, writer, args)
                found["writers"].append(entry)
        finally:
            stop_process(worker, grace=10)
    found["warm_up_s"] = warm_up_s
    return found, kept


# --- report ----------------------------------------------------------------------------------------------------

def overall(entries: list[dict], sizes: list[int]) -> dict:
    """The mean over writers of each accuracy, and the answers called no digit in all."""
    mean = lambda values: sum(values) / len(values)  # noqa: E731
    return {"shared": mean([e["shared"]["accuracy"] for e in entries]),
            "shared_not_a_digit": sum(e["shared"]["not_a_digit"] for e in entries),
            **{f"personal_{n}": mean([e["personal"][str(n)]["accuracy"] for e in entries]) for n in sizes},
            **{f"personal_{n}_not_a_digit": sum(e["personal"][str(n)]["not_a_digit"] for e in entries)
               for n in sizes},
            **{f"train_seconds_{n}": mean([e["personal"][str(n)]["train_seconds"] for e in entries]) for n in sizes},
            **{f"accepted_{n}": sum(bool(e["personal"][str(n)]["accepted"]) for e in entries) for n in sizes},
            "writers": len(entries), "test_drawings": sum(e["test"] for e in entries)}


def report(found: dict, sizes: list[int], split: str) -> None:
    entries, total = found["writers"], found["overall"]
    print(f"\nUNSEEN WRITERS ({split} split, {len(entries)} writers, {entries[0]['test']} held-out drawings each; "
          f"warm worker, {found['warm_up_s']:.1f} s to start)")
    heads = "".join(f" {'p' + str(n):>7}" for n in sizes) + "".join(f" {'train' + str(n):>8}" for n in sizes)
    print(f"{'writer':<24} {'source':<8} {'shared':>7}{heads}  gate   no-digit answers (shared/" +
          "/".join(f"p{n}" for n in sizes) + ")")
    for e in entries:
        runs = [e["personal"][str(n)] for n in sizes]
        gate = "/".join("ok" if run["accepted"] else run["status"][:3] for run in runs)
        print(f"{e['key']:<24} {e['source']:<8} {e['shared']['accuracy']:>7.1%}"
              + "".join(f" {run['accuracy']:>7.1%}" for run in runs)
              + "".join(f" {run['train_seconds']:>7.1f}s" for run in runs)
              + f"  {gate:<6} {e['shared']['not_a_digit']}/" + "/".join(str(run["not_a_digit"]) for run in runs))
    print(f"{'mean':<24} {'':<8} {total['shared']:>7.1%}" + "".join(f" {total[f'personal_{n}']:>7.1%}" for n in sizes)
          + "".join(f" {total[f'train_seconds_{n}']:>7.1f}s" for n in sizes)
          + f"  {'/'.join(str(total[f'accepted_{n}']) for n in sizes):<6} {total['shared_not_a_digit']}/"
          + "/".join(str(total[f"personal_{n}_not_a_digit"]) for n in sizes))
    print("\nthe runs' own figures (held-out: the drawings each run kept aside; MNIST validation)")
    for e in entries:
        for n in sizes:
            run = e["personal"][str(n)]
            print(f"{e['key']:<24} {n:>4}: held-out ({run['held_out_count']}) {fmt(run['held_out']['before'], '.1%')}"
                  f" -> {fmt(run['held_out']['after'], '.1%')}; MNIST validation "
                  f"{fmt(run['mnist_validation']['before'], '.2%')} -> {fmt(run['mnist_validation']['after'], '.2%')}"
                  f"; {run['status']}")


def name_tile(entry: dict, sizes: list[int]) -> Image.Image:
    tile = Image.new("RGB", (CELL, CELL), "white")
    pen = ImageDraw.Draw(tile)
    lines = [entry["key"], entry["source"], f"shared {entry['shared']['accuracy']:.1%}",
             *(f"personal {n}: {entry['personal'][str(n)]['accuracy']:.1%}" for n in sizes)]
    for k, line in enumerate(lines):
        pen.text((4, 20 + 16 * k), line[:24], fill="black")
    return tile


def save_sheet(found: dict, kept: dict, sizes: list[int], path: Path) -> Path:
    """A row per writer: its name and figures, then the first test drawing of each digit with its readings."""
    rows = []
    for entry in found["writers"]:
        reads = kept[entry["key"]]
        row = [(name_tile(entry, sizes), "")]
        for digit in range(10):
            k = next(i for i, s in enumerate(reads["test"]) if s.label == digit)
            said = "/".join(str(reads[which][k]["digit"]) if reads[which][k]["verdict"] != NOT_A_DIGIT else "?"
                            for which in ["shared", *map(str, sizes)])
            row.append((thumbnail(reads["test"][k].data), f"{digit}: read {said}"))
        rows.append(row)
    title = ("held-out drawings as posted; 'read' = what the shared model / the personal models (" +
             ", ".join(f"{n} saved" for n in sizes) + ") answered, ? = not a digit")
    contact_sheet(rows, title).save(path)
    return path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    writers, out = chosen(args), args.out
    print(f"{args.split} split: {len(writers)} writers, {args.test} held-out drawings per digit each, personal "
          f"sessions saving {', '.join(map(str, args.sizes))}")
    kept: dict = {}

    def measure_keeping_reads(args: argparse.Namespace) -> dict:
        found, reads = measure(args)
        kept.update(reads)
        return found

    def finish(found: dict) -> dict:
        found["overall"] = overall(found["writers"], args.sizes)
        report(found, args.sizes, args.split)
        out.mkdir(parents=True, exist_ok=True)
        sheet = save_sheet(found, kept, args.sizes, out / f"{args.name}_samples.png")
        print(f"wrote {sheet}")
        return {"split": args.split, "settings": {"site_env": {**SITE_SETTINGS, **SITE_ENV},
                                                  "fine_tune": "the site's defaults", "test_per_digit": args.test,
                                                  "sizes": args.sizes, "writers": [w.key for w in writers]},
                "apt_packages": packages(writers), **found, "sheet": str(sheet)}

    with tempfile.TemporaryDirectory(prefix="bench-writers-") as staging:
        args.out = Path(staging)  # run_benchmark writes writers.json there; it goes to its split's name below
        code = run_benchmark("writers", argv, args, measure_keeping_reads, finish)
        if code == 0:
            out.mkdir(parents=True, exist_ok=True)
            shutil.move(Path(staging) / "writers.json", out / f"{args.name}.json")
            print(f"moved to {out / f'{args.name}.json'}")
    return code


if __name__ == "__main__":
    sys.exit(main())
