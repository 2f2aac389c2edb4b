"""What the accuracy benchmarks (robustness, handwriting_styles) share: their command line, the checkpoint they
read, and contact sheets of a posted canvas beside the 28x28 the network saw."""

import argparse
import datetime
import io
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from bench.harness.processes import DEFAULT_CHECKPOINT
from bench.harness.results import RESULTS, code_state, machine_info, write_result
from recognizer.ml.checkpoints import CheckpointError, file_sha256, load_checkpoint

MAX_PIXELS = 4096 * 4096   # the site's default MAX_IMAGE_PIXELS
CELL = 150
SMALL = 84


def parse_args(description: str, argv: list[str] | None, *, unit: str, count: int, seed: int) -> argparse.Namespace:
    return argument_parser(description, unit=unit, count=count, seed=seed).parse_args(argv)


def argument_parser(description: str, *, unit: str, count: int, seed: int) -> argparse.ArgumentParser:
    """The options every accuracy benchmark takes; a benchmark may add its own before parsing."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--count", type=int, default=count, help=f"samples per {unit} (default {count})")
    parser.add_argument("--seed", type=int, default=seed)
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: the machine is shared)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the JSON and the sheets")
    parser.set_defaults(unit=unit)
    return parser


@dataclass(frozen=True)
class Checkpoint:
    network: torch.nn.Module
    metadata: dict
    sha256: str


def load_network(args: argparse.Namespace) -> Checkpoint | None:
    """The checkpoint's network (on ``args.threads`` threads), metadata and SHA-256; None, said why, when it
    cannot be loaded."""
    torch.set_num_threads(args.threads)
    try:
        network, metadata = load_checkpoint(args.checkpoint)
    except CheckpointError as exc:
        print(f"cannot benchmark: {exc}", file=sys.stderr)
        return None
    checkpoint = Checkpoint(network, metadata, file_sha256(args.checkpoint))
    print(f"checkpoint {args.checkpoint} (sha256 {checkpoint.sha256[:12]}); {args.count} samples per {args.unit}, "
          f"seed {args.seed}")
    return checkpoint


def write_accuracy_result(args: argparse.Namespace, argv: list[str] | None, checkpoint: Checkpoint, *,
                          benchmark: str, module: str, fields: dict, sheets: tuple[Path, Path]) -> None:
    """``fields`` with what every accuracy result records, as bench/results/<module>.json."""
    result = {
        "benchmark": benchmark, "timestamp": datetime.datetime.now(datetime.UTC).isoformat(),
        "command": " ".join([Path(sys.executable).name, "-m", f"bench.{module}", *(argv or sys.argv[1:])]),
        "seed": args.seed, **fields,
        "checkpoint": {"path": str(args.checkpoint), "sha256": checkpoint.sha256, "metadata": checkpoint.metadata},
        "machine": machine_info(libraries=True), "code": code_state(), "sheets": [str(path) for path in sheets],
    }
    write_result(args.out, f"{module}.json", result)
    print(f"wrote {sheets[0]}, {sheets[1]}")


def thumbnail(data: bytes) -> Image.Image:
    """The posted canvas over a grey checkerboard (transparency shows), scaled to fit CELL with its outline."""
    image = Image.open(io.BytesIO(data)).convert("RGBA")
    y, x = np.indices(image.size[::-1])
    board = np.full((*image.size[::-1], 4), 255, dtype=np.uint8)
    board[..., :3] = np.where(((y // 16 + x // 16) % 2 == 0)[..., None], 205, 235)
    board = Image.alpha_composite(Image.fromarray(board, "RGBA"), image).convert("RGB")
    board.thumbnail((CELL - 4, CELL - 4), Image.Resampling.LANCZOS)
    framed = Image.new("RGB", (board.width + 2, board.height + 2), (200, 0, 0))
    framed.paste(board, (1, 1))
    return framed


def digit_tile(digit: np.ndarray | None) -> Image.Image:
    if digit is None:
        return Image.new("L", (SMALL, SMALL), 80).convert("RGB")
    return Image.fromarray(digit, "L").resize((SMALL, SMALL), Image.Resampling.NEAREST).convert("RGB")


def contact_sheet(rows: list[list[tuple[Image.Image, str]]], title: str) -> Image.Image:
    width = max(len(r) for r in rows) * (CELL + 8) + 8
    sheet = Image.new("RGB", (width, 24 + len(rows) * (CELL + 22)), "white")
    pen = ImageDraw.Draw(sheet)
    pen.text((8, 6), title, fill="black")
    for r, row in enumerate(rows):
        for c, (tile, caption) in enumerate(row):
            x, y = 8 + c * (CELL + 8), 24 + r * (CELL + 22)
            sheet.paste(tile, (x + (CELL - tile.width) // 2, y + (CELL - tile.height) // 2))
            pen.text((x, y + CELL + 4), caption[:26], fill="black")
    return sheet
