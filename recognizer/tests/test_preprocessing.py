import io
import struct
import zlib

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings, strategies as st
from PIL import Image, ImageDraw
from scipy import ndimage

from recognizer.ml.preprocessing import (
    MNIST_MEAN, MNIST_STD, Ink, InvalidImage, _distance_from_background, _reduce_ink, _reducible, _reduction, _stretch,
    decode_image, encode_png, ink_map, prepare_digit, to_model_input,
)
from recognizer.tests.drawings import canvas_png, draw, encode

LIMIT = 4096 * 4096


def prepare(data: bytes) -> np.ndarray:
    return prepare_digit(data, max_pixels=LIMIT)


def assert_mnist_like(digit: np.ndarray) -> None:
    """28x28 uint8, white ink on black, ink inside a 20 px box, centre of mass near the middle."""
    assert digit.shape == (28, 28) and digit.dtype == np.uint8
    assert digit.max() == 255
    rows, cols = np.nonzero(digit)
    assert max(np.ptp(rows) + 1, np.ptp(cols) + 1) <= 21
    assert max(np.ptp(rows) + 1, np.ptp(cols) + 1) >= 18
    com = ndimage.center_of_mass(digit.astype(float))
    assert abs(com[0] - 14) <= 1.0 and abs(com[1] - 14) <= 1.0
    assert (digit > 0).mean() < 0.5  # mostly black: the polarity is MNIST's


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(float).ravel(), b.astype(float).ravel()
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


REFERENCE = prepare(canvas_png())


def test_transparent_rgba_canvas_uses_alpha_as_ink():
    assert_mnist_like(REFERENCE)
    # The 7's top bar is at the top: the first ink row is bright across much of the width.
    top_row = np.nonzero(REFERENCE.any(1))[0][0]
    assert (REFERENCE[top_row:top_row + 2] > 128).sum() >= 8


@pytest.mark.parametrize("ink, background, mode", [
    ((0, 0, 0), (255, 255, 255), "RGB"),            # black on white
    ((255, 255, 255), (0, 0, 0), "RGB"),            # white on black
    ((200, 30, 30), (220, 235, 255), "RGB"),        # red ink on pale blue
    ((20, 20, 160), (250, 245, 230), "RGB"),        # blue ink on cream paper
    (0, 255, "L"),                                  # greyscale
    ((0, 255), (255, 255), "LA"),                   # opaque greyscale with alpha
    ((30, 30, 30, 255), (255, 255, 255, 255), "RGBA"),  # opaque canvas that was filled white
])
def test_any_polarity_and_colour_gives_the_same_digit(ink, background, mode):
    digit = prepare(encode(draw(ink=ink, background=background, mode=mode)))
    assert_mnist_like(digit)
    assert similarity(digit, REFERENCE) > 0.97


@pytest.mark.parametrize("fmt, params", [("JPEG", {"quality": 70}), ("GIF", {}), ("WEBP", {"quality": 80}),
                                         ("BMP", {}), ("PNG", {})])
def test_every_accepted_encoding_gives_the_same_digit(fmt, params):
    image = draw(ink=(0, 0, 0), background=(255, 255, 255), mode="RGB")
    digit = prepare(encode(image, fmt, **params))
    assert_mnist_like(digit)
    assert similarity(digit, REFERENCE) > 0.95


def test_a_palette_gif_with_a_transparent_background_uses_the_transparency():
    image = draw().convert("P")  # transparent pixels become one palette index marked as transparency
    digit = prepare(encode(image, "GIF", transparency=image.getpixel((0, 0))))
    assert_mnist_like(digit)


def test_a_small_off_centre_digit_is_cropped_scaled_and_centred():
    digit = prepare(canvas_png(size=(600, 600), box=(0.05, 0.80, 0.15, 0.94), width=8))
    assert_mnist_like(digit)
    assert similarity(digit, REFERENCE) > 0.9


def test_a_huge_digit_touching_the_edges_fits_the_box():
    digit = prepare(canvas_png(size=(400, 400), box=(0.02, 0.02, 0.98, 0.98), width=40))
    assert_mnist_like(digit)


@pytest.mark.parametrize("width", [3, 10, 35])
def test_thin_and_thick_strokes_both_give_a_full_strength_digit(width):
    digit = prepare(canvas_png(width=width))
    assert_mnist_like(digit)
    ink = (digit > 0).sum()
    assert 25 < ink < 260


BIG_DIGIT_ON_A_BIG_CANVAS = {"size": (600, 600), "box": (0.1, 0.05, 0.9, 0.95)}
BOLD_ON_A_BIG_CANVAS = prepare(canvas_png(**BIG_DIGIT_ON_A_BIG_CANVAS, width=12))


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_a_hairline_digit_on_a_big_canvas_reads_like_the_same_digit_drawn_bold(width):
    # The crop (about 500 px) is box-averaged to under 128 px before the 20 px fit: the hairline fades there
    # and must come back at full strength, not vanish as a speck. Fitting straight from 500 px used to alias
    # 2-4 px lines into two faint parallel ones (similarity 0.05 to the bold digit).
    digit = prepare(canvas_png(**BIG_DIGIT_ON_A_BIG_CANVAS, width=width))
    assert_mnist_like(digit)
    assert similarity(digit, BOLD_ON_A_BIG_CANVAS) > 0.95


def test_a_tall_narrow_one_keeps_its_aspect_ratio():
    digit = prepare(canvas_png(path=[(0.5, 0.0), (0.5, 1.0)], width=12))
    rows, cols = np.nonzero(digit > 64)
    assert np.ptp(rows) + 1 >= 19 and np.ptp(cols) + 1 <= 5


def test_a_huge_canvas_is_reduced_early_and_still_reads():
    # 1600x1200 RGBA: about the most a PNG decoded at full size may hold (decode_budget's full_size_bytes)
    digit = prepare(canvas_png(size=(1600, 1200), box=(0.3, 0.2, 0.62, 0.8), width=64))
    assert_mnist_like(digit)
    assert similarity(digit, REFERENCE) > 0.9


def test_a_canvas_too_big_to_decode_within_budget_is_refused_saying_the_limit():
    with pytest.raises(InvalidImage, match=r"4000×3000 pixels; .* up to 2,250,000 pixels \(about 1500×1500\)"):
        prepare(canvas_png(size=(4000, 3000), box=(0.3, 0.2, 0.62, 0.8), width=160))


@pytest.mark.parametrize(("mode", "fmt"), [("P", "GIF"), ("P", "PNG"), ("1", "PNG"), ("I;16", "PNG"), ("1", "BMP")])
def test_a_big_image_of_a_mode_pillow_cannot_reduce_is_read_all_the_same(mode, fmt):
    # Pillow's reduce() refuses palette, 1-bit and 16-bit images: a 1024 px one had been answered with a 500.
    drawn = draw(size=(1400, 1100), box=(0.3, 0.2, 0.62, 0.8), width=60, ink=(0, 0, 0), background=(255, 255, 255),
                 mode="RGB")
    if mode == "P":
        image = drawn.quantize(16)
        if fmt == "PNG":
            image.info["transparency"] = image.getpixel((0, 0))  # a see-through background, as a canvas gives
    elif mode == "I;16":
        image = Image.fromarray(np.asarray(drawn.convert("L")).astype(np.uint16) * 200)  # mode I;16
    else:
        image = drawn.convert(mode)
    assert image.mode == mode
    options = {"transparency": image.info["transparency"]} if "transparency" in image.info else {}
    assert similarity(prepare(encode(image, fmt, **options)), prepare(encode(drawn))) > 0.97


@pytest.mark.parametrize("image", [
    Image.new("RGBA", (280, 280), (0, 0, 0, 0)),
    Image.new("RGB", (280, 280), (255, 255, 255)),
    Image.new("RGB", (280, 280), (40, 90, 200)),
])
def test_a_blank_image_is_not_a_digit(image):
    with pytest.raises(InvalidImage, match="empty"):
        prepare(encode(image))


def test_faint_noise_is_not_a_digit():
    noise = np.random.default_rng(0).integers(245, 256, (280, 280, 3), dtype=np.uint8)
    with pytest.raises(InvalidImage, match="empty"):
        prepare(encode(Image.fromarray(noise)))


@pytest.mark.parametrize("size, width", [((280, 280), 20), ((600, 600), 40), ((200, 200), 10)])
def test_a_single_tap_of_the_pen_is_not_a_digit(size, width):
    image = draw(path=[(0.5, 0.5), (0.52, 0.5)], width=width, size=size)  # a dot as wide as the pen
    with pytest.raises(InvalidImage, match="dot of ink"):
        prepare(encode(image))


def test_a_bold_mnist_digit_is_not_mistaken_for_a_dot(mnist_dir):
    images = np.fromfile(mnist_dir / "MNIST/raw/t10k-images-idx3-ubyte", dtype=np.uint8, offset=16)
    boldest = max(images.reshape(-1, 28, 28)[:2000], key=lambda d: (d > 128).sum())
    assert_mnist_like(prepare(encode(Image.fromarray(255 - boldest))))


def test_a_single_speck_is_not_a_digit():
    image = draw(path=[(0.5, 0.5), (0.5, 0.5)], width=4, size=(600, 600))
    with pytest.raises(InvalidImage, match="speck"):
        prepare(encode(image))


def test_empty_bytes_are_refused():
    with pytest.raises(InvalidImage, match="empty"):
        prepare(b"")


def test_text_is_not_an_image():
    with pytest.raises(InvalidImage, match="not an image"):
        prepare(b"hello, this is not a picture")


def test_a_truncated_file_is_refused():
    data = encode(draw(mode="RGB", background=(255, 255, 255)), "PNG")
    with pytest.raises(InvalidImage, match="damaged or cut short"):
        prepare(data[: len(data) // 2])


def test_an_unaccepted_format_is_named():
    with pytest.raises(InvalidImage, match="TIFF images are not accepted"):
        prepare(encode(draw(mode="RGB", background=(255, 255, 255)), "TIFF"))


def test_a_one_pixel_image_is_refused():
    with pytest.raises(InvalidImage, match="1×1"):
        prepare(encode(Image.new("RGB", (1, 1))))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny valid-looking PNG whose header claims a huge size: a decompression bomb."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [5000, 60000])
def test_a_decompression_bomb_is_refused_before_decoding(side):
    with pytest.raises(InvalidImage, match="pixels"):
        decode_image(png_claiming(side, side), max_pixels=LIMIT)


def test_the_model_input_is_normalised_like_training():
    tensor = to_model_input(REFERENCE)
    assert tensor.shape == (1, 1, 28, 28) and tensor.dtype == torch.float32
    assert tensor.min().item() == pytest.approx(-MNIST_MEAN / MNIST_STD, abs=1e-5)
    assert tensor.max().item() == pytest.approx((1 - MNIST_MEAN) / MNIST_STD, abs=1e-5)


def test_inference_normalises_exactly_as_training_does():
    from recognizer.ml.preprocessing import mnist_transform

    expected = mnist_transform(augment=False)(Image.fromarray(REFERENCE, mode="L")).unsqueeze(0)
    assert torch.allclose(to_model_input(REFERENCE), expected, atol=1e-6)


def test_the_preprocessed_digit_round_trips_through_png():
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(encode_png(REFERENCE)))), REFERENCE)


def test_a_stray_dot_far_from_the_digit_is_ignored():
    image = draw()
    ImageDraw.Draw(image).ellipse((262, 262, 268, 268), fill=(0, 0, 0, 255))  # a slip of the pen in a corner
    assert similarity(prepare(encode(image)), REFERENCE) > 0.99


def test_separate_strokes_of_one_digit_are_kept():
    # A "5" whose top bar was drawn as a separate stroke that does not touch the rest.
    image = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    pen.line([(110, 40), (200, 40)], fill=(0, 0, 0, 255), width=14)
    pen.line([(110, 62), (105, 130), (170, 140), (185, 190), (150, 240), (95, 225)], fill=(0, 0, 0, 255), width=14)
    digit = prepare(encode(image))
    top = np.nonzero(digit.any(1))[0][0]
    assert (digit[top: top + 2] > 128).any(0).sum() >= 6  # the bar is still on top, wide


# --- The ink box is found in C from a bound; measuring only inside it must lose nothing --------------------------

@st.composite
def drawings_of_every_kind(draw_from) -> Image.Image:
    """A few strokes of any width and colour on any background, with or without noise and hot pixels, as any
    image mode the site reads: what scanners, phones, scripts and other apps send."""
    width, height = draw_from(st.integers(16, 360)), draw_from(st.integers(16, 360))
    colour = st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))
    background = draw_from(colour)
    image = Image.new("RGB", (width, height), background)
    pen = ImageDraw.Draw(image)
    for _ in range(draw_from(st.integers(0, 5))):  # each stroke its own colour: some strong, some faint
        points = [(draw_from(st.floats(0, width)), draw_from(st.floats(0, height))) for _ in range(2)]
        pen.line(points, fill=draw_from(colour), width=draw_from(st.integers(1, 30)))
    pixels = np.asarray(image, dtype=np.float64)
    noise = draw_from(st.sampled_from([0.0, 0.0, 2.0, 8.0, 20.0]))
    rng = np.random.default_rng(draw_from(st.integers(0, 2**32 - 1)))
    pixels = pixels + rng.normal(0.0, noise, pixels.shape)
    for _ in range(draw_from(st.integers(0, 30))):  # hot pixels: a few stray specks
        pixels[rng.integers(height), rng.integers(width)] = rng.integers(0, 256, 3)
    image = Image.fromarray(np.clip(np.round(pixels), 0, 255).astype(np.uint8))
    kind = draw_from(st.sampled_from(["RGB", "L", "P", "JPEG", "opaque RGBA", "see-through ink", "transparent RGBA",
                                      "transparent LA", "16-bit grey"]))
    if kind in {"L", "P"}:
        return image.convert(kind)
    if kind == "JPEG":
        return Image.open(io.BytesIO(encode(image, "JPEG", quality=draw_from(st.integers(30, 95)))))
    coverage = image.convert("L")
    if kind == "opaque RGBA":
        return image.convert("RGBA")
    if kind == "see-through ink":  # an opaque background, the ink's edges partly transparent
        faded = image.convert("RGBA")
        faded.putalpha(coverage.point(lambda level: max(level, 128)))
        return faded
    if kind == "16-bit grey":
        return Image.fromarray(np.asarray(image.convert("L")).astype(np.int32) * 37 + 1000, mode="I")
    transparent = Image.new("RGBA" if kind == "transparent RGBA" else "LA", image.size)
    transparent.putalpha(coverage)  # the lighter the pixel, the more ink: any map of coverage will do
    return transparent


def working_image(image: Image.Image) -> Image.Image:
    return _reducible(image).reduce(_reduction(image)) if _reduction(image) > 1 else image


def every_pixel_ink(image: Image.Image) -> Ink:
    """The image's ink the slow way that is obviously right: the exact distance of every pixel."""
    factor, image = _reduction(image), working_image(image)
    distance = _distance_from_background(image)
    everywhere = distance.exact((0, 0, *image.size))
    return _reduce_ink(_stretch(everywhere, distance.noise, full_scale=distance.full_scale,
                                image_side=max(image.size), origin=(0, 0), scale=factor))


def strokes_far_apart(background: tuple, strong: tuple, faint: tuple, faint_width: int) -> Image.Image:
    """A bold stroke, and far from it a faint one whose colour differs from the background in another way: the
    strong ink in one channel only, the faint in all three, or a one-pixel hairline. The faint stroke is ink,
    but only just: a box worked out carelessly from the strong one leaves it out."""
    image = Image.new("RGB", (240, 200), background)
    pen = ImageDraw.Draw(image)
    pen.line([(30, 40), (30, 160)], fill=strong, width=14)
    pen.line([(200, 30), (210, 170)], fill=faint, width=faint_width)
    return image


@settings(max_examples=300, deadline=None)
@given(drawings_of_every_kind())
@example(strokes_far_apart((0, 0, 0), (255, 0, 0), (30, 30, 30), 6))
@example(strokes_far_apart((255, 255, 255), (0, 0, 0), (200, 200, 200), 1))
def test_measuring_only_inside_the_box_gives_what_measuring_every_pixel_gives(image):
    fast, slow = ink_map(image), every_pixel_ink(image)
    assert (fast.image_side, fast.origin, fast.scale) == (slow.image_side, slow.origin, slow.scale)
    assert np.array_equal(fast.pixels, slow.pixels)


@settings(max_examples=50, deadline=None)
@given(drawings_of_every_kind())
def test_the_colour_distance_is_the_euclidean_distance_from_the_border_colour(image):
    image = working_image(image)
    distance = _distance_from_background(image)
    if image.mode not in {"RGB", "L", "P"}:
        return  # seen as RGB otherwise (over white, stretched, or the alpha itself): the rest is the same
    colour = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    height, width = colour.shape[:2]
    t = max(1, round(0.02 * min(height, width)))
    border = np.concatenate([colour[:t].reshape(-1, 3), colour[-t:].reshape(-1, 3),
                             colour[:, :t].reshape(-1, 3), colour[:, -t:].reshape(-1, 3)])
    expected = np.linalg.norm(colour - np.median(border, axis=0), axis=-1) / np.sqrt(3.0)
    assert np.array_equal(distance.exact((0, 0, width, height)), expected)
