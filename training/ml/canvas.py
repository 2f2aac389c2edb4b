"""MNIST digits re-drawn the way a browser canvas would post them. No Django.

The benchmarks' canvas-robustness set draws MNIST *test* digits; training.ml.detector draws digits of MNIST's training
and validation parts, so that the non-digit detector learns, and sets its threshold on, digits as the site sees
them. Each sample takes one MNIST digit and

1. crops it to its ink, pads it, and upscales it smoothly (bicubic) so the drawn digit is 25-85 % of the
   canvas height (a 200-600 px canvas, square or not; a wide digit on a narrow canvas is shrunk to fit);
2. varies the stroke width, as a canvas brush's lineWidth would: a target width of 7.5-20 % of the digit's
   height is drawn (MNIST's own strokes are 8-20 %, median 12.5 %), and the stroke is grown or shrunk
   towards it by turning the upscaled digit's 0.5 contour into a signed distance field and shifting it,
   which is grey-level dilation/erosion with a disk proportional to the scale, done in O(pixels). Growth
   is capped at 1 MNIST px per side and thinning at 20 % of the stroke per side, so most loops stay open and
   thin strokes do not break;
3. turns that into an anti-aliased ink/alpha mask with a 1 px soft edge, like a canvas brush;
4. places it at a random position that keeps every pixel of ink at least 3 px inside the canvas;
5. composes it in one of the encodings below (colours, mode, file format) and encodes it to bytes.

Everything is drawn from one ``numpy.random.default_rng(seed)``: the same seed gives the same bytes, and
because samples are generated round-robin over the encodings, a smaller ``count_per_encoding`` yields a
prefix of a larger one.
"""

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image
from scipy import ndimage

MNIST_RAW = Path(__file__).resolve().parents[2] / "data" / "MNIST" / "raw"
CANVAS_SIDES = (200, 600)       # canvas width and height, inclusive
HEIGHT_FRACTION = (0.25, 0.85)  # the digit's ink height as a fraction of the canvas height
STROKE_RELATIVE = (0.075, 0.20) # the drawn stroke's width as a fraction of the digit's height
MAX_GROWTH = 1.0                # MNIST px added to each side of a stroke, at most
MAX_THINNING = 0.2              # fraction of the stroke's width removed from each side, at most
MARGIN = 3                      # px of canvas kept clear around the ink: nothing is cut off


class CanvasSample(NamedTuple):
    encoding: str
    label: int
    data: bytes
    index: int  # which MNIST test image it was drawn from


def load_mnist_test(raw_dir: Path = MNIST_RAW) -> tuple[np.ndarray, np.ndarray]:
    """(10000, 28, 28) uint8 images and (10000,) uint8 labels from the t10k IDX files."""
    images = np.fromfile(raw_dir / "t10k-images-idx3-ubyte", dtype=np.uint8)
    labels = np.fromfile(raw_dir / "t10k-labels-idx1-ubyte", dtype=np.uint8)
    if images[:4].tobytes() != b"\x00\x00\x08\x03" or labels[:4].tobytes() != b"\x00\x00\x08\x01":
        raise ValueError(f"{raw_dir} does not hold MNIST IDX files")
    return images[16:].reshape(-1, 28, 28), labels[8:]


# --- geometry: one MNIST digit -> an anti-aliased ink mask on a canvas -------------------------------------

def _stroke_patch(digit28: np.ndarray, scale: float, delta: float) -> np.ndarray:
    """Upscale the digit by ``scale`` and grow its stroke by ``delta`` MNIST px: float ink in [0, 1]."""
    ink = digit28.astype(np.float32) / 255.0
    rows, cols = np.nonzero(ink)
    pad = 2 + max(delta, 0.0)  # room for the dilated stroke
    crop = np.pad(ink[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1], int(np.ceil(pad)))
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    smooth = np.asarray(Image.fromarray(crop, mode="F").resize(size, Image.Resampling.BICUBIC))
    inside = smooth > 0.5
    # Signed distance to the stroke's edge (negative inside); shifting it by r px is a disk dilation/erosion.
    signed = ndimage.distance_transform_edt(~inside) - ndimage.distance_transform_edt(inside)
    return np.clip(delta * scale - signed + 0.5, 0.0, 1.0).astype(np.float32)


def stroke_width(digit28: np.ndarray) -> float:
    """The digit's mean stroke width in MNIST px: 2 x area / perimeter of its 0.5 contour (8x upscaled)."""
    ink = Image.fromarray(digit28.astype(np.float32) / 255.0, mode="F").resize((224, 224), Image.Resampling.BICUBIC)
    inside = np.asarray(ink) > 0.5
    perimeter = np.count_nonzero(inside & ~ndimage.binary_erosion(inside))
    return 2.0 * np.count_nonzero(inside) / max(perimeter, 1) / 8.0


def _crop_to_ink(patch: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(patch > 0)
    return patch[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]


def _fit(patch: np.ndarray, height: int, width: int) -> np.ndarray:
    """Shrink a patch that does not fit the canvas inside its margins (rare: only after rounding)."""
    room_h, room_w = height - 2 * MARGIN, width - 2 * MARGIN
    if patch.shape[0] <= room_h and patch.shape[1] <= room_w:
        return patch
    factor = min(room_h / patch.shape[0], room_w / patch.shape[1])
    size = (max(1, int(patch.shape[1] * factor)), max(1, int(patch.shape[0] * factor)))
    return np.clip(np.asarray(Image.fromarray(patch, mode="F").resize(size, Image.Resampling.BILINEAR)), 0, 1)


def render_ink(digit28: np.ndarray, rng: np.random.Generator, *, size: tuple[int, int] | None = None) -> np.ndarray:
    """(H, W) float32 ink in [0, 1]: the digit drawn at a random size, stroke width and place on a canvas
    of ``size`` (width, height), or of a random size when None."""
    if size is None:
        width, height = (int(v) for v in rng.integers(CANVAS_SIDES[0], CANVAS_SIDES[1] + 1, size=2))
        if rng.random() < 0.5:  # most drawing pads are square
            width = height
    else:
        width, height = size
    fraction = rng.uniform(*HEIGHT_FRACTION)
    rows, cols = np.nonzero(digit28)
    ink_h, ink_w = np.ptp(rows) + 1, np.ptp(cols) + 1
    native = stroke_width(digit28)
    target = rng.uniform(*STROKE_RELATIVE) * ink_h
    delta = float(np.clip((target - native) / 2, -MAX_THINNING * native, MAX_GROWTH))
    grown = 2 * max(delta, 0.0)  # the dilated stroke adds this many MNIST px to each side's extent
    scale = min(fraction * height / (ink_h + grown), (width - 2 * MARGIN - 2) / (ink_w + grown))
    patch = _fit(_crop_to_ink(_stroke_patch(digit28, scale, delta)), height, width)
    top = int(rng.integers(MARGIN, height - MARGIN - patch.shape[0] + 1))
    left = int(rng.integers(MARGIN, width - MARGIN - patch.shape[1] + 1))
    canvas = np.zeros((height, width), dtype=np.float32)
    canvas[top: top + patch.shape[0], left: left + patch.shape[1]] = patch
    return canvas


# --- encodings: ink mask -> file bytes ----------------------------------------------------------------------

def _save(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def _blend(ink: np.ndarray, background, colour) -> np.ndarray:
    """Paint ``colour`` over ``background`` with coverage ``ink``: uint8 (H, W) or (H, W, C)."""
    a = ink[..., None] if np.ndim(colour) else ink
    out = np.asarray(background, np.float32) * (1.0 - a) + np.asarray(colour, np.float32) * a
    return np.round(out).astype(np.uint8)


def _dark_ink(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 48, size=3)  # near-black: #000 to #2f2f2f, as drawing apps default to


def _canvas_rgba(ink: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """What canvas.toDataURL() holds: transparent (0,0,0,0) background, ink colour with alpha coverage."""
    rgba = np.zeros((*ink.shape, 4), dtype=np.uint8)
    rgba[ink > 0, :3] = _dark_ink(rng)
    rgba[..., 3] = np.round(ink * 255).astype(np.uint8)
    return Image.fromarray(rgba, mode="RGBA")


def _black_on_white(ink: np.ndarray) -> Image.Image:
    return Image.fromarray(_blend(ink, (255, 255, 255), (0, 0, 0)), mode="RGB")


def _coloured_ink(ink: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A random ink colour on a random light paper colour, at least 35 % apart (RGB distance / sqrt 3)."""
    paper = rng.integers(205, 256, size=3)
    while True:  # rejection sampling: pale yellow ink on cream paper is not a fair test
        colour = rng.integers(0, 256, size=3)
        if np.linalg.norm(colour - paper) / np.sqrt(3) / 255 >= 0.35:
            break
    return Image.fromarray(_blend(ink, paper, colour), mode="RGB")


def _la(ink: np.ndarray, rng: np.random.Generator) -> Image.Image:
    grey = np.full(ink.shape, int(rng.integers(0, 48)), dtype=np.uint8)
    return Image.fromarray(np.stack([grey, np.round(ink * 255).astype(np.uint8)], axis=-1), mode="LA")


Encoder = Callable[[np.ndarray, np.random.Generator], bytes]

ENCODINGS: dict[str, Encoder] = {
    "canvas-rgba-png": lambda ink, rng: _save(_canvas_rgba(ink, rng), "PNG"),
    "black-on-white-png": lambda ink, rng: _save(_black_on_white(ink), "PNG"),
    "white-on-black-png": lambda ink, rng: _save(Image.fromarray(_blend(ink, (0, 0, 0), (255, 255, 255))), "PNG"),
    "coloured-ink-png": lambda ink, rng: _save(_coloured_ink(ink, rng), "PNG"),
    "grey-L-png": lambda ink, rng: _save(
        Image.fromarray(_blend(ink, int(rng.integers(200, 256)), int(rng.integers(0, 70))), mode="L"), "PNG"),
    "la-png": lambda ink, rng: _save(_la(ink, rng), "PNG"),
    # Palette images: a 16-colour GIF of dark ink on white, and a PNG whose palette carries alpha (tRNS).
    "palette-gif": lambda ink, rng: _save(
        Image.fromarray(_blend(ink, (255, 255, 255), _dark_ink(rng))).quantize(16, Image.Quantize.MEDIANCUT), "GIF"),
    "palette-png-trns": lambda ink, rng: _save(
        _canvas_rgba(ink, rng).quantize(32, Image.Quantize.FASTOCTREE), "PNG"),
    "jpeg-q75": lambda ink, rng: _save(_black_on_white(ink), "JPEG", quality=75),
    # canvas.toDataURL("image/webp") keeps the alpha channel; browsers default to quality 0.8.
    "webp": lambda ink, rng: _save(_canvas_rgba(ink, rng), "WEBP", quality=80),
    "bmp": lambda ink, rng: _save(
        Image.fromarray(_blend(ink, (255, 255, 255), _dark_ink(rng))), "BMP"),
}


def render_canvas_sample(
    digit28: np.ndarray, encoding: str, rng: np.random.Generator, *, size: tuple[int, int] | None = None
) -> bytes:
    """One MNIST digit (28x28 uint8, white on black) drawn on a canvas (random size unless ``size`` is
    given as (width, height)) and encoded as ``encoding``."""
    return ENCODINGS[encoding](render_ink(digit28, rng, size=size), rng)


def iter_robustness_set(
    count_per_encoding: int,
    seed: int,
    *,
    encodings: list[str] | None = None,
    mnist: tuple[np.ndarray, np.ndarray] | None = None,
) -> Iterator[CanvasSample]:
    """Yield ``count_per_encoding`` samples of each encoding, round-robin, each from a different test digit.

    The digits are a seeded permutation of the 10 000 test images; only past 10 000 samples in all does a
    digit come back (in another encoding, with another canvas).
    """
    names = list(ENCODINGS) if encodings is None else encodings
    images, labels = mnist if mnist is not None else load_mnist_test()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(images))
    for i in range(count_per_encoding):
        for j, name in enumerate(names):
            index = int(order[(i * len(names) + j) % len(order)])
            yield CanvasSample(name, int(labels[index]), render_canvas_sample(images[index], name, rng), index)
