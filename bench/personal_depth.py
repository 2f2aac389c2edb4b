"""How deep a personal model should adapt: accuracy on a writer's unseen drawings, size and training time, per way
of adapting, on the TUNING writers of bench/font_writers.py only (never the report writers).

    .venv/bin/python -m bench.personal_depth                 # defaults: 8 tuning writers, 20 and 200 drawings
    .venv/bin/python -m bench.personal_depth --writers 4 --test 10

In process, no site: each writer's drawings go through the site's preprocessing (prepare_digit), the shipped base
model's trunk and a bank built as a training worker builds it (MNIST replay and validation, non-digits), then each
way of adapting trains on N of them (N = 20: two per digit; 200: twenty) and reads ``--test`` others per digit,
from a seed of their own. The ways:

- ``dense``: the whole dense classifier retrained (what personal runs did before: a full copy of the network);
- ``adapter`` with its stroke adapter off (``conv_rank`` 0): low-rank updates and output layers only;
- ``adapter`` with a 3x3 stroke adapter of 16 or 32 maps on the last convolutional stage, and more epochs.

Also the MNIST validation accuracy after (the gate's figure), stored bytes and train seconds. Writes
bench/results/personal_depth.json; the README's table ("How deep a personal model adapts") comes from it.
"""

import argparse
import io
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.font_writers import Writer, writers_of
from bench.harness.processes import DEFAULT_CHECKPOINT
from bench.harness.results import RESULTS, fmt, machine_info, write_result
from recognizer.ml.checkpoints import load_checkpoint
from recognizer.ml.decoding import InvalidImage
from recognizer.ml.network import parameter_count
from recognizer.ml.personal import adapter_bytes
from recognizer.ml.preprocessing import normalise_digits, prepare_digit
from training.ml.adapt import (
    AdaptConfig, ParentBank, adapt_adapter_detector, augmented, build_bank, embed, scores_of, train_adapter,
    train_classifier,
)
from training.ml.data import mnist_arrays
from training.ml.detector import NONDIGIT_SEEDS, nondigit_digits
from training.ml.nondigits import training_families

CPU = torch.device("cpu")
DATA = Path(__file__).resolve().parent.parent / "data"


@dataclass(frozen=True)
class Way:
    name: str
    config: AdaptConfig
    dense: bool = False  # the whole dense classifier instead of an adapter


def ways() -> list[Way]:
    base = AdaptConfig()
    return [
        Way("dense classifier (before)", base, dense=True),
        Way("adapter, no stroke adapter", replace(base, conv_rank=0, adapter_learning_rate=2e-3)),
        Way("adapter, stroke adapter 16", replace(base, conv_rank=16, adapter_learning_rate=2e-3)),
        Way("adapter, stroke adapter 16, 12 epochs", replace(base, conv_rank=16, epochs=12,
                                                             adapter_learning_rate=2e-3)),
        Way("adapter, stroke adapter 16, learning rate 5e-3 (chosen)", replace(base, conv_rank=16,
                                                                              adapter_learning_rate=5e-3)),
        Way("adapter, stroke adapter 16, dense rank 16", replace(base, conv_rank=16, hidden_rank=16,
                                                                 adapter_learning_rate=2e-3)),
        Way("adapter, stroke adapter 32", replace(base, conv_rank=32, adapter_learning_rate=2e-3)),
    ]


def bank_for(network, replay: int = 4000, validation: int = 10000, nondigits_per_family: int = 10) -> ParentBank:
    """What a training worker keeps per parent (training.candidate.parent_bank), built the same way."""
    train_images, train_labels = mnist_arrays(DATA, split="train")
    picked = torch.randperm(len(train_images), generator=torch.Generator().manual_seed(0))[:replay]
    validation_images, validation_labels = mnist_arrays(DATA, split="validation")
    families = training_families()
    return build_bank(network, replay_digits=train_images[picked], replay_labels=train_labels[picked],
                      validation_digits=validation_images[:validation],
                      validation_labels=validation_labels[:validation],
                      nondigit_digits=nondigit_digits(families, count=nondigits_per_family,
                                                      seed=NONDIGIT_SEEDS["validation"], processes=1)[0],
                      training_nondigit_digits=nondigit_digits(families, count=nondigits_per_family,
                                                               seed=NONDIGIT_SEEDS["train"], processes=1)[0],
                      device=CPU)


def turned(png: bytes, degrees: float) -> bytes:
    """The drawing turned clockwise on its page, as someone writes with a phone held at a slant."""
    if not degrees:
        return png
    image = Image.open(io.BytesIO(png)).convert("RGBA").rotate(-degrees, resample=Image.BICUBIC, expand=True)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def digits_of(writer: Writer, per_digit: int, purpose: str, turn: float) -> tuple[list[np.ndarray], list[int]]:
    digits, labels = [], []
    for sample in writer.drawings(per_digit, purpose):
        try:
            digits.append(prepare_digit(turned(sample.data, turn), max_pixels=4_000_000))
        except InvalidImage:
            continue  # the site would refuse it too: not a drawing anyone could save
        labels.append(sample.label)
    return digits, labels


def accuracy(classifier, features: torch.Tensor, labels: list[int]) -> float:
    with torch.inference_mode():
        return float((classifier.cpu().eval()(features).argmax(1) == torch.tensor(labels)).float().mean())


def study(writer: Writer, turn: float, size: int, test: int, network, bank: ParentBank) -> list[dict]:
    train_digits, train_labels = digits_of(writer, size // 10, f"depth-train-{size}", turn)
    test_digits, test_labels = digits_of(writer, test, "depth-test", turn)
    test_features = embed(network, normalise_digits(torch.from_numpy(np.stack(test_digits))), device=CPU)
    key = f"{writer.key}{f' turned {turn:g}°' if turn else ''}"
    rows = [{"writer": key, "turn": turn, "size": size, "way": "shared model",
             "accuracy": accuracy(network.classifier, test_features, test_labels)}]
    for way in ways():
        config = way.config
        started = time.perf_counter()
        images, labels = augmented(train_digits, train_labels, repeats=config.user_repeats, seed=config.seed)
        features = embed(network, images, device=CPU)
        if way.dense:
            classifier, _ = train_classifier(network, features, labels, bank, config, device=CPU)
            stored = parameter_count(network) * 4
            reads = classifier
        else:
            adapter, _ = train_adapter(network, features, labels, bank, config, device=CPU)
            adapt_adapter_detector(adapter, network.detector, features, bank, config, device=CPU)
            stored = len(adapter_bytes(adapter, parent_sha256="-"))
            reads = adapter.on_trunk().classifier
        seconds = time.perf_counter() - started
        rows.append({"writer": key, "turn": turn, "size": size, "way": way.name,
                     "accuracy": accuracy(reads, test_features, test_labels),
                     "mnist_validation": scores_of(reads, bank.validation_features, bank.validation_labels).accuracy,
                     "seconds": round(seconds, 2), "stored_bytes": stored})
    return rows


def summary(rows: list[dict]) -> list[dict]:
    table = []
    for turn, size in sorted({(row["turn"], row["size"]) for row in rows}):
        for way in dict.fromkeys(row["way"] for row in rows):
            chosen = [row for row in rows if row["size"] == size and row["way"] == way and row["turn"] == turn]
            table.append({"turn": turn, "size": size, "way": way, "writers": len(chosen),
                          "accuracy": float(np.mean([row["accuracy"] for row in chosen])),
                          "worst_writer": float(np.min([row["accuracy"] for row in chosen])),
                          "mnist_validation": (float(np.mean([row["mnist_validation"] for row in chosen]))
                                               if "mnist_validation" in chosen[0] else None),
                          "seconds": float(np.mean([row["seconds"] for row in chosen])) if "seconds" in chosen[0]
                          else None,
                          "stored_kb": chosen[0].get("stored_bytes", 0) / 1024 or None})
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=8, help="tuning writers (the first K)")
    parser.add_argument("--test", type=int, default=20, help="unseen drawings per digit per writer")
    parser.add_argument("--sizes", default="20,200", help="drawings trained on, comma-separated")
    parser.add_argument("--turns", default="0,45", help="degrees the drawings are turned, comma-separated: 0 as "
                        "written; 45 as on a phone held at a slant, which the shared model reads poorly")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    network, _ = load_checkpoint(DEFAULT_CHECKPOINT)
    bank = bank_for(network)
    writers = [writer for writer in writers_of("tune") if writer.available()][:args.writers]
    rows = []
    for turn in (float(turn) for turn in args.turns.split(",")):
        for writer in writers:
            for size in (int(size) for size in args.sizes.split(",")):
                rows += study(writer, turn, size, args.test, network, bank)
                print(f"{rows[-1]['writer']} {size}: " + ", ".join(f"{row['way']} {row['accuracy']:.1%}"
                                                             for row in rows[-len(ways()) - 1:]), flush=True)
    table = summary(rows)
    print(f"\n{'turn':>5} {'drawings':>8}  {'way':<40} {'accuracy':>9} {'worst':>7} {'MNIST val':>9} {'train s':>8} "
          f"{'KB':>7}")
    for row in table:
        print(f"{row['turn']:>5g} {row['size']:>8}  {row['way']:<40} {row['accuracy']:>9.1%} "
              f"{row['worst_writer']:>7.1%} {fmt(row['mnist_validation'], '.2%'):>9} {fmt(row['seconds'], '.1f'):>8} "
              f"{fmt(row['stored_kb'], '.0f'):>7}")
    write_result(args.out, "personal_depth.json", {"machine": machine_info(), "writers": [w.key for w in writers],
                                              "test_per_digit": args.test, "ways": [asdict(w) for w in ways()],
                                              "table": table, "rows": rows})


if __name__ == "__main__":
    main()
