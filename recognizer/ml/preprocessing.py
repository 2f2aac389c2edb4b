"""Turn any posted image into the normalised 28x28 input DigitNet reads, the way MNIST itself was made.

    image bytes --decode_image--> PIL image --ink_map--> Ink in [0, 1], cropped --to_mnist--> 28x28 uint8
                --to_model_input--> (1, 1, 28, 28) normalised tensor

MNIST digits are white ink on black, cropped to the ink, scaled so the longer side is 20 px (keeping the
aspect ratio, anti-aliased), and placed in a 28x28 field with the centre of mass at the centre. Drawings go
through exactly that. MNIST_MEAN and MNIST_STD are defined here and only here; training and inference both
normalise through ``mnist_transform`` so the two can never drift apart.
"""

import functools
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image, ImageChops
from scipy import ndimage
from torch import Tensor
from torch.nn import functional as F

from .decoding import WORKING_SIDE, InvalidImage, decode_image, decoded_scale  # callers import them from here

if TYPE_CHECKING:
    from torchvision.transforms import v2

MNIST_MEAN = 0.1307  # MNIST's training set: the mean of its pixels scaled to [0, 1] (the values torchvision's
MNIST_STD = 0.3081   # examples use), so a normalised input is centred as the network was trained on

HIGH_BIT_DEPTH_MODES = {"I", "I;16", "I;16B", "I;16L", "F"}
FIELD = 28  # MNIST's image side: the network's input, fixed by every checkpoint's weights, so no setting
BOUND_SLACK = 1  # levels (of 255) a Distance's bound may be off by: half a level of rounding, and float error.
                 # Worked out, not tuned (4f81630): the fast ink box is exactly the slow one only while it holds

# The tuned values of the pipeline: one frozen dataclass per stage, and one module default each (after them).
# Each function takes its stage's config as ``config=`` (the whole PreprocessingConfig where it runs several
# stages; a helper that also asks what counts as ink takes ``lit``), so a caller or a test can vary one value:
# ``to_mnist(ink, config=replace(PREPROCESSING, specks=replace(SPECKS, area_share=0.05)))``. "Chosen by hand"
# means no measurement behind the value is on record; the commit that set it is named.


@dataclass(frozen=True)
class BackgroundConfig:
    """How the background is read off the image's border and told from the ink (``_distance_from_background``)."""
    # The border is a frame this share of the shorter side thick: wide enough for a steady median and noise level,
    # thin enough that a digit drawn near the edge seldom reaches it. Chosen by hand (8c1e446).
    border_share: float = 0.02
    border_min_px: int = 1  # ...and at least 1 px, so a small image still has a border (8c1e446)
    # A border whose median alpha (of 255) is under this, i.e. mostly see-through, is a transparent background:
    # the alpha is the ink, as a canvas's toDataURL() gives it. Half opacity, chosen by hand (8c1e446: alpha < 0.5).
    transparent_below: int = 128
    # The background's own noise is this percentile of the border's distances from its typical colour: a JPEG's
    # ringing and paper grain count, a few pixels of ink that touch the border do not. Chosen by hand (8c1e446).
    noise_percentile: int = 95


@dataclass(frozen=True)
class InkConfig:
    """What counts as ink and how strong it is (``_stretch``, ``_ink_box``, ``_reduce_ink``, and every later step's
    ``ink > lit``): distance from the background stretched to [0, 1], the background's noise at 0, strong ink at 1."""
    # The ink's strength (its peak) is its 20th strongest pixel: a few hot pixels do not count, a thin digit on a
    # big canvas does. Chosen by hand (8c1e446), named PEAK_RANK in 4f81630.
    peak_rank: int = 20
    # A peak under this (a share of full scale) is no ink at all: the drawing is empty. Chosen by hand (8c1e446);
    # test_faint_noise_is_not_a_digit (levels 245-255 on white, at most 0.04) relies on it.
    min_contrast: float = 0.08
    # Where stretched ink starts (0): the border's noise, but at least this share of the peak, so a JPEG's halo
    # and faint smudges go to 0 even on a clean background... Chosen by hand (8c1e446).
    floor_share: float = 0.12
    # ...and at most this share of it, so a noisy background cannot swallow the ink. Chosen by hand (8c1e446).
    floor_cap: float = 0.5
    # Stretched ink above this counts: the crop to the ink, the blobs of the speck rule, the crop to the 20 px box.
    # Low, so the faint anti-aliased edge is kept. Chosen by hand (8c1e446's `ink > 0.05`, named LIT in e32dae7).
    lit: float = 0.05
    # The cropped ink is box-reduced by a whole factor to 64-127 px (over 3x the 20 px digit box) before the MNIST
    # steps, which cost per pixel: a quarter of the work on a 280 px canvas. Measured (791079a): canvas robustness
    # bench 99.56 % with it, worst encoding 99.40 %.
    crop_working_side: int = 64


@dataclass(frozen=True)
class RefusalRules:
    """When there is too little ink to be a digit: ``to_mnist`` refuses it with a message instead of guessing."""
    # Ink above half strength is the drawing's body; with none the drawing is empty. Chosen by hand (8c1e446).
    strong: float = 0.5
    # Strong ink spanning under 3 % of the image's longer side is a speck, not a digit... Chosen by hand (8c1e446).
    min_extent_share: float = 0.03
    min_extent_px: int = 2  # ...and so is strong ink under 2 px whatever the image's size (8c1e446, by hand)
    # A digit is longer than 1.5 pen widths; a tap or a dab of the pen, however big, is not. Chosen by hand (501ad36).
    min_extent_in_strokes: float = 1.5
    # Ink spanning more than this share of the image is no dot, so the pen is not measured: a fast path chosen by
    # hand (6c279b8), far above any dot a pen makes.
    dot_check_extent: float = 0.4
    # The pen is measured on the ink reduced to about this many px (the distance transform costs ~40 ns a pixel):
    # a pixel of error does not cross the 1.5x margin above. Outputs identical on 1320 robustness drawings (cf9661a).
    stroke_measure_side: int = 32


@dataclass(frozen=True)
class SpeckRules:
    """Which separate blobs are stray dots (a slip of the pen, a fleck of dirt), erased before cropping so they do
    not widen the crop and shrink the digit (``_without_specks``). Both must hold. Chosen by hand (db9799e): the
    separate strokes of one digit (the bar of a 7, the top of a 5) are far bigger."""
    area_share: float = 0.03    # under 3 % of all the ink's mass...
    extent_share: float = 0.2   # ...and a longer side under 20 % of the longer side of the blob with the most ink


@dataclass(frozen=True)
class CentringConfig:
    """How the ink is placed in MNIST's 28x28 field (``_fit_in_box``, ``_centre_by_mass``): MNIST's own recipe,
    which the network was trained on."""
    digit_box: int = 20  # MNIST's convention: the ink's longer side scaled to 20 px, keeping the aspect ratio
    # MNIST's convention: the centre of mass placed at the field's centre; where it sits (row, column) was measured
    # on MNIST's test set (8c1e446).
    centre_of_mass: float = 14.0


@dataclass(frozen=True)
class AugmentationConfig:
    """Training's random changes to each 28x28 (``mnist_transform(augment=True)``): drawn digits vary more than
    MNIST's in slant, place, size and pen. Chosen by hand (8c1e446)."""
    degrees: int = 10                                 # rotated by up to 10 degrees either way
    translate: tuple[float, float] = (0.08, 0.08)     # moved by up to 8 % of the side, each way
    scale: tuple[float, float] = (0.9, 1.1)           # scaled by 0.9-1.1
    shear: int = 6                                    # sheared by up to 6 degrees
    stroke_width_p: float = 0.35                      # StrokeWidthJitter: the share of images whose strokes change...
    stroke_width_strength: float = 0.6                # ...and its largest blend with the 3x3 dilation or erosion


@dataclass(frozen=True)
class PreprocessingConfig:
    """Every stage's config, for the functions that run several stages (located_ink, ink_map, to_mnist,
    prepare_digit)."""
    background: BackgroundConfig = BackgroundConfig()
    ink: InkConfig = InkConfig()
    refusals: RefusalRules = RefusalRules()
    specks: SpeckRules = SpeckRules()
    centring: CentringConfig = CentringConfig()


PREPROCESSING = PreprocessingConfig()
BACKGROUND, INK, REFUSALS, SPECKS, CENTRING = (PREPROCESSING.background, PREPROCESSING.ink, PREPROCESSING.refusals,
                                               PREPROCESSING.specks, PREPROCESSING.centring)
AUGMENTATION = AugmentationConfig()


def stretched_grey(image: Image.Image) -> np.ndarray:
    """A 16-bit or float greyscale image (HIGH_BIT_DEPTH_MODES) as floats from 0 (its darkest pixel) to 1 (its
    brightest): such images use any part of their range, often only the bottom of it."""
    grey = np.asarray(image, dtype=np.float32)
    return (grey - grey.min()) / max(float(grey.max() - grey.min()), 1e-6)


def _reduction(image: Image.Image) -> int:
    """The whole factor a big image is reduced by before any per-pixel work (1: not reduced)."""
    return max(1, max(image.size) // WORKING_SIDE)


def _reducible(image: Image.Image) -> Image.Image:
    """The image in a mode Pillow's reduce() takes, with nothing lost: palettes expanded (keeping their
    transparency), 1-bit as grey, 16-bit grey widened to 32-bit."""
    if image.mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode == "1":
        return image.convert("L")
    if image.mode.startswith("I;16"):
        return image.convert("I")
    return image


Box = tuple[int, int, int, int]  # left, upper, right, lower: Pillow's order


def _border_boxes(width: int, height: int, *, config: BackgroundConfig = BACKGROUND) -> list[Box]:
    """A frame ``border_share`` thick (at least ``border_min_px``) around the image, as four boxes: top, bottom,
    left, right."""
    t = max(config.border_min_px, round(config.border_share * min(height, width)))
    return [(0, 0, width, t), (0, height - t, width, height), (0, 0, t, height), (width - t, 0, width, height)]


def _border(values_of: Callable[[Box], np.ndarray], size: tuple[int, int], *,
            config: BackgroundConfig = BACKGROUND) -> np.ndarray:
    """What ``values_of`` gives for the border's pixels, as a (k, channels) array."""
    strips = [values_of(box) for box in _border_boxes(*size, config=config)]
    return np.concatenate([strip.reshape(strip.shape[0] * strip.shape[1], -1) for strip in strips])


@dataclass(frozen=True)
class Ink:
    """Ink in [0, 1], cropped to its bounding box (empty when there is none), and the longer side of the whole
    image: specks and dots are judged against the image, not the crop. ``origin`` and ``scale`` place it in the
    posted image: pixels[r, c] covers posted pixels from (origin[0] + c * scale, origin[1] + r * scale)."""
    pixels: np.ndarray
    image_side: int
    origin: tuple[int, int] = (0, 0)  # x, y
    scale: int = 1


@dataclass(frozen=True)
class Distance:
    """Each pixel's distance from the background, in two forms.

    ``exact(box)`` measures it for the pixels in a box, from 0 to ``full_scale`` (any numeric type). ``bound``
    brackets it for the whole image at once, worked out by Pillow in C: its largest band m at each pixel (uint8)
    keeps 255 x exact / full_scale <= m + BOUND_SLACK and m <= ``spread`` x 255 x exact / full_scale + BOUND_SLACK.
    The bound finds the box that can hold ink, so only that box is measured exactly: measuring every pixel of
    a 280 px RGB PNG had taken 5 ms of its 6.
    """
    size: tuple[int, int]
    bound: Image.Image | None  # None when ``exact`` costs nothing more than a bound would (a canvas's alpha)
    spread: float
    exact: Callable[[Box], np.ndarray]
    full_scale: float
    noise: float  # the background's own noise: the border's noise_percentile, in the units of ``exact``


def _ink_threshold(peak: float, noise: float, *, config: InkConfig = INK) -> tuple[float, float]:
    """The background floor and the level above which a pixel is ink, for an image whose strongest ink is
    ``peak`` and whose background noise is ``noise`` (fractions of full scale). Both rise with either."""
    floor = min(max(noise, config.floor_share * peak), config.floor_cap * peak)
    return floor, floor + config.lit * (peak - floor)


def _strongest(values: np.ndarray, *, config: InkConfig = INK) -> float:
    """The ``peak_rank``-th strongest non-zero value (the strongest when there are fewer)."""
    rank = config.peak_rank
    lit = values[values > 0]  # partitioning a canvas of mostly equal zeros is very slow
    return float(np.partition(lit, -rank)[-rank]) if lit.size >= rank else float(lit.max(initial=0))


def _levels_reached(counts: np.ndarray, how_many: int) -> np.ndarray:
    """Per band of (bands, 256) histograms, the highest level that at least ``how_many`` non-zero values reach;
    0 where none does."""
    from_top = np.cumsum(counts[:, :0:-1], axis=1)  # how many non-zero values are at least 255, 254, ... 1
    reached = from_top >= how_many
    return np.where(reached.any(axis=1), 255 - reached.argmax(axis=1), 0)


@functools.lru_cache(maxsize=1024)
def _at_least(level: int, bands: int) -> list[int]:
    """A lookup table for Image.point: 255 for values of at least ``level``, else 0, in every band."""
    return [255 if value >= level else 0 for value in range(256)] * bands


def _ink_box(distance: Distance, *, config: InkConfig = INK) -> Box | None:
    """A box holding every pixel that can be ink or among the ``peak_rank`` strongest; None when there is none.

    Worked out on the bound halved in each direction (Pillow's reduce: 2x2 blocks averaged and rounded), a
    quarter of the work: a block holds a pixel at least as strong as its average, and a pixel's block averages
    at least a quarter of it. If peak_rank blocks reach a level, so do peak_rank pixels: less the bound's slack
    and over its spread, that is a floor under the true peak, hence under the ink threshold (which rises with
    the peak). No pixel bounded below the threshold can be ink, and the strongest pixels are all above it."""
    if distance.bound is None:
        return (0, 0, *distance.size)
    blocks = distance.bound.reduce(2)
    counts = np.asarray(blocks.histogram()).reshape(-1, 256)
    level = int(_levels_reached(counts, config.peak_rank).max())
    peak_at_least = max(level - BOUND_SLACK, 0) / 255 / distance.spread
    _, threshold_at_least = _ink_threshold(peak_at_least, distance.noise / distance.full_scale, config=config)
    # A pixel over ``cut`` puts its block's rounded average at (cut + 1) / 4 - 0.5 or more.
    cut = math.floor(threshold_at_least * 255) - BOUND_SLACK
    keep_from = math.ceil((cut + 1) / 4 - 0.5)
    found = blocks.point(_at_least(keep_from, len(counts))).getbbox()
    if found is None:
        return None
    width, height = distance.size
    left, upper, right, lower = found
    return 2 * left, 2 * upper, min(2 * right, width), min(2 * lower, height)


def _stretch(distance: np.ndarray, background_noise: float, *, full_scale: float, image_side: int,
             origin: tuple[int, int], scale: int, config: InkConfig = INK) -> Ink:
    """Scale distance-from-background (0 to ``full_scale``, any numeric type) to [0, 1] ink, cropped to the
    ink: the background's own noise becomes 0, strong ink 1. Crops before scaling, so only the inked part is
    ever converted to floats. ``origin`` is where ``distance`` starts in the posted image."""
    peak = _strongest(distance, config=config) / full_scale
    if peak < config.min_contrast:  # no ink, so no place: (0, 0), as for an image with no box that can hold ink
        return Ink(np.zeros((0, 0), np.float32), image_side, (0, 0), scale)
    floor, threshold = _ink_threshold(peak, background_noise / full_scale, config=config)
    rows, cols = _bounds(distance > threshold * full_scale)
    cropped = distance[rows, cols].astype(np.float32) / np.float32(full_scale)
    return Ink(np.clip((cropped - floor) / (peak - floor), 0.0, 1.0), image_side,
               (int(origin[0] + cols.start * scale), int(origin[1] + rows.start * scale)), scale)


def _reduce_ink(ink: Ink, *, config: InkConfig = INK) -> Ink:
    """The ink box-averaged by a whole factor down to about ``crop_working_side`` px, its strongest pixel kept at
    full strength, and the image side scaled alike. The digit ends up 20 px tall anyway, and every step on the
    way costs per pixel: on a 280 px canvas this quarters the work (robustness accuracy unchanged, 99.56 %)."""
    factor = max(ink.pixels.shape) // config.crop_working_side
    if factor < 2:  # an empty crop included
        return ink
    blocks = np.asarray(Image.fromarray(ink.pixels, mode="F").reduce(factor))
    return Ink(blocks / blocks.max(), max(1, ink.image_side // factor), ink.origin, ink.scale * factor)


def ink_map(image: Image.Image, *, config: PreprocessingConfig = PREPROCESSING) -> Ink:
    """The image's ink in [0, 1], cropped to it and reduced to a working size, from any image mode and polarity."""
    return _reduce_ink(located_ink(image, config=config), config=config.ink)


def located_ink(image: Image.Image, *, config: PreprocessingConfig = PREPROCESSING) -> Ink:
    """The image's ink in [0, 1], cropped to it, at up to about WORKING_SIDE px, and where it lies in the posted image.

    A canvas's toDataURL() gives ink on a transparent background: there the alpha channel is the ink.
    Otherwise the background is the border's typical colour and ink is whatever differs from it, so
    black-on-white, white-on-black and coloured ink on any plain background all work.
    """
    factor = _reduction(image)
    posted = factor * decoded_scale(image)  # posted pixels per pixel worked on
    image = _reducible(image).reduce(factor) if factor > 1 else image
    distance = _distance_from_background(image, config=config.background)
    box = _ink_box(distance, config=config.ink)
    if box is None:
        return Ink(np.zeros((0, 0), np.float32), max(image.size), (0, 0), posted)
    return _stretch(distance.exact(box), distance.noise, full_scale=distance.full_scale, image_side=max(image.size),
                    origin=(box[0] * posted, box[1] * posted), scale=posted, config=config.ink)


def _distance_from_background(image: Image.Image, *, config: BackgroundConfig = BACKGROUND) -> Distance:
    """How far each pixel is from the background: a transparent canvas's alpha, else the colour's distance from
    the border's median colour. What differs between image modes is only how to see them as uint8 RGB."""
    if image.mode in {"RGBA", "LA", "PA", "RGBa", "La"} or "transparency" in image.info:
        if image.mode == "La":  # premultiplied: Pillow only converts it via LA
            image = image.convert("LA")
        if image.mode not in {"RGBA", "LA"}:
            image = image.convert("RGBA")
        alpha = image.getchannel("A")
        if alpha.getextrema()[0] == 255:  # opaque all over: the alpha says nothing
            return _colour_distance(image, config=config)
        alpha_values = np.asarray(alpha)  # uint8: a canvas is compared and ranked without floats

        def alpha_of(box: Box) -> np.ndarray:
            return alpha_values[box[1]:box[3], box[0]:box[2]]

        typical, noise = np.percentile(_border(alpha_of, image.size, config=config), [50, config.noise_percentile])
        if typical < config.transparent_below:  # transparent: the alpha channel carries the ink, already measured
            return Distance(image.size, None, 1.0, alpha_of, 255.0, float(noise))
        on_white = Image.new("RGB", image.size, "white")
        on_white.paste(image, mask=alpha)  # an opaque background with see-through ink: seen over white paper
        return _colour_distance(on_white, config=config)
    if image.mode in HIGH_BIT_DEPTH_MODES:
        grey = Image.fromarray(np.round(stretched_grey(image) * 255).astype(np.uint8), mode="L")
        return _colour_distance(grey, config=config)
    return _colour_distance(image, config=config)


def _colour_distance(image: Image.Image, *, config: BackgroundConfig = BACKGROUND) -> Distance:
    """The Euclidean distance (over sqrt 3, so 0 to 1) of each pixel's colour from the border's median colour,
    the image seen as uint8 RGB."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")

    def rgb_of(box: Box) -> np.ndarray:
        return np.asarray(rgb.crop(box))

    border = _border(rgb_of, rgb.size, config=config)
    background = _median_colour(border)
    # Per channel, each of the 256 levels' squared difference from the background, in float32 as numpy would
    # work it out pixel by pixel: the same bits, looked up instead of computed.
    squares = np.square(np.arange(256, dtype=np.float32)[None, :] / 255.0 - background[:, None])

    def distance_of(pixels: np.ndarray) -> np.ndarray:
        summed = np.take(squares[0], pixels[..., 0])
        summed += np.take(squares[1], pixels[..., 1])  # in place: fresh arrays cost more than the arithmetic
        summed += np.take(squares[2], pixels[..., 2])
        return np.sqrt(summed, out=summed) / np.sqrt(3.0)

    # Each channel's difference from the background rounded to a level: its largest is at least the distance
    # and at most sqrt 3 times it, give or take half a level.
    levels = tuple(int(level) for level in np.round(255 * background.astype(np.float64)))
    differences = ImageChops.difference(rgb, Image.new("RGB", rgb.size, levels))
    noise = float(np.percentile(distance_of(border), config.noise_percentile))
    return Distance(rgb.size, differences, math.sqrt(3.0), lambda box: distance_of(rgb_of(box)), 1.0, noise)


def _median_colour(pixels: np.ndarray) -> np.ndarray:
    """The per-channel median of (k, 3) uint8 pixels as float32 in [0, 1], exactly (to the bit) what np.median
    gives for the pixels scaled to floats, from their middle one or two values only: partitioning a few
    thousand floats per channel cost more than the rest of the colour's work."""
    middle = [(len(pixels) - 1) // 2, len(pixels) // 2]
    by_channel = np.partition(np.ascontiguousarray(pixels.T), middle, axis=1)[:, middle]
    return np.median(by_channel.T.astype(np.float32) / 255.0, axis=0)


def _bounds(mask: np.ndarray) -> tuple[slice, slice]:
    """The bounding box of the True pixels (there must be some)."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _fit_in_box(ink: np.ndarray, *, config: CentringConfig = CENTRING, lit: float = INK.lit) -> np.ndarray:
    """Crop to the ink (above ``lit``) and scale so the longer side is ``digit_box`` pixels, keeping the aspect
    ratio."""
    cropped = ink[_bounds(ink > lit)]
    height, width = cropped.shape
    scale = config.digit_box / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(cropped.astype(np.float32), mode="F").resize(size, Image.Resampling.LANCZOS)
    fitted = np.clip(np.asarray(resized), 0.0, None)
    return fitted / max(float(fitted.max()), 1e-6)  # MNIST strokes always reach full intensity


def _centre_by_mass(digit: np.ndarray, *, config: CentringConfig = CENTRING) -> np.ndarray:
    """Place the digit in the 28x28 field so its centre of mass sits where MNIST's does."""
    height, width = digit.shape
    com_row, com_col = ndimage.center_of_mass(digit)
    # Whole-pixel shifts keep strokes sharp; clamp so no ink leaves the field.
    top = int(np.clip(round(config.centre_of_mass - com_row), 0, FIELD - height))
    left = int(np.clip(round(config.centre_of_mass - com_col), 0, FIELD - width))
    field = np.zeros((FIELD, FIELD), dtype=np.float32)
    field[top: top + height, left: left + width] = digit
    return field


def _without_specks(ink: np.ndarray, *, config: SpeckRules = SPECKS, lit: float = INK.lit) -> np.ndarray:
    """Erase stray dots (a slip of the pen, a fleck of dirt) that would otherwise widen the crop and shrink
    the digit. Separate strokes of one digit (the bar of a 7, the top of a 5) are far bigger and stay."""
    labels, count = ndimage.label(ink > lit, structure=np.ones((3, 3)))
    if count < 2:
        return ink
    areas = ndimage.sum_labels(ink, labels, index=np.arange(1, count + 1))
    boxes = ndimage.find_objects(labels)
    extents = np.array([max(b[0].stop - b[0].start, b[1].stop - b[1].start) for b in boxes])
    largest = int(areas.argmax())
    specks = (areas < config.area_share * areas.sum()) & (extents < config.extent_share * extents[largest])
    if not specks.any():
        return ink
    return np.where(np.isin(labels, np.flatnonzero(specks) + 1), 0.0, ink).astype(ink.dtype)


def _stroke_width(mask: np.ndarray, *, config: RefusalRules = REFUSALS) -> float:
    """The widest stroke in a boolean ink mask: twice the largest distance from ink to background. Measured on
    a copy reduced to about ``stroke_measure_side`` px, in full-size pixels: the distance transform costs ~40 ns
    a pixel, and the dot check it serves has a 1.5x margin that a pixel of error does not cross."""
    step = max(1, max(mask.shape) // config.stroke_measure_side)
    return 2.0 * step * float(ndimage.distance_transform_edt(np.pad(mask[::step, ::step], 1)).max())


def to_mnist(found: Ink, *, config: PreprocessingConfig = PREPROCESSING) -> np.ndarray:
    """Cropped ink -> (28, 28) uint8, white on black, MNIST-style. Raises InvalidImage when blank."""
    ink, image_side, rules, lit = found.pixels, found.image_side, config.refusals, config.ink.lit
    if ink.max(initial=0.0) <= rules.strong:
        raise InvalidImage("The drawing is empty. Draw a digit first.")
    strong = ink > rules.strong
    rows, cols = _bounds(strong)
    extent = max(rows.stop - rows.start, cols.stop - cols.start)
    if extent < max(rules.min_extent_share * image_side, rules.min_extent_px):
        raise InvalidImage("There is only a speck of ink. Draw a whole digit.")
    if (extent < rules.dot_check_extent * image_side
            and extent < rules.min_extent_in_strokes * _stroke_width(strong[rows, cols], config=rules)):
        raise InvalidImage("That is only a dot of ink, too small to be a digit. Draw the whole digit, larger.")
    digit = _fit_in_box(_without_specks(ink, config=config.specks, lit=lit), config=config.centring, lit=lit)
    return np.round(_centre_by_mass(digit, config=config.centring) * 255).astype(np.uint8)


def prepare_digit(data: bytes, *, max_pixels: int, config: PreprocessingConfig = PREPROCESSING) -> np.ndarray:
    """Image file bytes -> the (28, 28) uint8 MNIST-style digit the network will see."""
    return to_mnist(ink_map(decode_image(data, max_pixels=max_pixels), config=config), config=config)


def encode_png(digit: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(digit, mode="L").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


class StrokeWidthJitter(torch.nn.Module):
    """Randomly thicken or thin strokes a little, as pens, fingers and canvas brushes do.

    Blends the image with its 3x3 grey-level dilation (thicker) or erosion (thinner) by a random amount, so a
    network trained with it is less surprised by drawings whose stroke width differs from MNIST's.
    """

    def __init__(self, p: float = AUGMENTATION.stroke_width_p,
                 max_strength: float = AUGMENTATION.stroke_width_strength) -> None:
        super().__init__()
        self.p = p
        self.max_strength = max_strength

    def forward(self, image: Tensor) -> Tensor:
        if torch.rand(()) >= self.p:
            return image
        strength = float(torch.rand(())) * self.max_strength
        batch = image.unsqueeze(0)
        if torch.rand(()) < 0.5:
            morphed = F.max_pool2d(batch, 3, stride=1, padding=1)
        else:
            morphed = -F.max_pool2d(-batch, 3, stride=1, padding=1)
        return ((1 - strength) * batch + strength * morphed).squeeze(0)


def mnist_transform(*, augment: bool, config: AugmentationConfig = AUGMENTATION) -> "v2.Compose":
    """28x28 PIL image (or, without augmentation, a (1, 28, 28) uint8 tensor) -> (1, 28, 28) normalised float
    tensor, optionally augmented as ``config`` says."""
    # Imported here: torchvision's transforms pull in all of torchvision.models, ~3 s of CPU that a web
    # worker, which never trains, would otherwise pay at every start and every replacement.
    from torchvision.transforms import v2

    steps: list[torch.nn.Module] = []
    if augment:
        # On a PIL image the affine warp runs in PIL, not in a torch matrix product that waits on the
        # intra-op thread pool: per-image augmentation stays fast on a busy machine.
        steps.append(v2.RandomAffine(degrees=config.degrees, translate=config.translate, scale=config.scale,
                                     shear=config.shear, interpolation=v2.InterpolationMode.BILINEAR))
    steps += [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]
    if augment:
        steps.append(StrokeWidthJitter(config.stroke_width_p, config.stroke_width_strength))
    steps.append(v2.Normalize([MNIST_MEAN], [MNIST_STD]))
    return v2.Compose(steps)


def to_model_input(digit: np.ndarray) -> Tensor:
    """(28, 28) uint8 array, white ink on black as in MNIST -> (1, 1, 28, 28) normalised float tensor.

    The arithmetic of mnist_transform(augment=False) (a test holds them equal), written out because it runs
    on every prediction and the transform pipeline's overhead is ten times the arithmetic. Done in numpy and
    handed over once: each torch operation on so small a tensor costs more in dispatch than in arithmetic.
    """
    scaled = np.asarray(digit, dtype=np.float32) / np.float32(255)
    normalised = (scaled - np.float32(MNIST_MEAN)) / np.float32(MNIST_STD)
    return torch.from_numpy(np.ascontiguousarray(normalised).reshape(1, 1, FIELD, FIELD))


def normalise_digits(digits: Tensor) -> Tensor:
    """(N, 28, 28) uint8 digits, white ink on black -> (N, 1, 28, 28) normalised float tensor: the batch form of
    to_model_input."""
    return ((digits.to(torch.float32) / 255 - MNIST_MEAN) / MNIST_STD).unsqueeze(1)
