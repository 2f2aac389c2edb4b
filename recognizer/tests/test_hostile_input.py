"""Property-based tests: whatever bytes or images arrive, the answer is a digit or a documented refusal."""

import base64
import io
import json
import time

import numpy as np
import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from bench.decode_cost import CASES, drawn_indices, rle_bmp
from recognizer.ml.preprocessing import InvalidImage, ink_map, prepare_digit, to_mnist
from recognizer.tests.drawings import as_upload, draw, encode

MODES = ["1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBa", "La", "I", "I;16", "F", "CMYK", "YCbCr", "HSV", "LAB"]
FORMATS = {"PNG": {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"}, "GIF": {"L", "P", "1"},
           "BMP": {"1", "L", "P", "RGB"}, "JPEG": {"L", "RGB", "CMYK"}, "WEBP": {"RGB", "RGBA"}}
DOCUMENTED_STATUSES = {200, 400, 413, 415}


@st.composite
def small_images(draw) -> bytes:
    """Any small image in any mode the format can hold, with random pixels or random strokes."""
    fmt = draw(st.sampled_from(sorted(FORMATS)))
    mode = draw(st.sampled_from(sorted(FORMATS[fmt])))
    width, height = draw(st.integers(1, 64)), draw(st.integers(1, 64))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    noise = Image.fromarray(rng.integers(0, 256, (height, width, 4), dtype=np.uint8), "RGBA")
    image = noise if draw(st.booleans()) else Image.new("RGBA", (width, height), tuple(rng.integers(0, 256, 4).tolist()))
    buffer = io.BytesIO()
    image.convert(mode).save(buffer, format=fmt)
    return buffer.getvalue()


def check(data: bytes) -> None:
    try:
        digit = prepare_digit(data, max_pixels=4096 * 4096)
    except InvalidImage as exc:
        assert str(exc)  # a refusal always says why
        return
    assert digit.shape == (28, 28) and digit.dtype == np.uint8


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_are_a_digit_or_a_refusal(data):
    check(data)


@settings(max_examples=150, deadline=None)
@given(small_images())
def test_any_small_image_in_any_mode_is_a_digit_or_a_refusal(data):
    check(data)


@settings(max_examples=60, deadline=None)
@given(small_images(), st.integers(0, 200), st.binary(max_size=64))
def test_damaged_images_are_a_digit_or_a_refusal(data, cut, junk):
    check(data[: max(len(data) - cut, 0)] + junk)


@pytest.mark.parametrize("mode", MODES)
def test_a_decoded_image_in_any_pillow_mode_reads_as_a_digit(mode):
    image = Image.new("RGB", (64, 64), "white")
    image.paste((0, 0, 0), (28, 8, 36, 56))  # a bar: a "1"
    digit = to_mnist(ink_map(image.convert(mode)))
    rows, cols = np.nonzero(digit > 128)
    assert np.ptp(rows) + 1 >= 18 and np.ptp(cols) + 1 <= 6


DATA_URL_PARTS = st.one_of(
    st.text(max_size=200),
    st.builds(lambda mime, payload: f"data:{mime};base64,{payload}",
              st.sampled_from(["image/png", "image/jpeg", "text/plain", "", "image/x;charset=utf-8"]),
              st.one_of(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n ",
                                max_size=300), st.binary(max_size=200).map(lambda b: base64.b64encode(b).decode()))),
    small_images().map(lambda data: "data:image/png;base64," + base64.b64encode(data).decode()),
)


@pytest.mark.django_db
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(DATA_URL_PARTS)
def test_any_data_url_gets_a_documented_answer(active_model_version, value):
    response = Client().post("/api/predict", json.dumps({"image": value}), content_type="application/json")
    assert response.status_code in DOCUMENTED_STATUSES
    assert ("digit" in response.json()) if response.status_code == 200 else isinstance(response.json()["error"], str)


@pytest.mark.django_db
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=1024), st.sampled_from(["application/json", "image/png", "application/octet-stream",
                                                   "multipart/form-data; boundary=xyz", "text/plain", "",
                                                   "application/x-www-form-urlencoded", "multipart/form-data"]))
def test_any_request_body_gets_a_documented_answer(active_model_version, body, content_type):
    response = Client().generic("POST", "/api/predict", body, content_type=content_type)
    assert response.status_code in DOCUMENTED_STATUSES
    assert response["Content-Type"] == "application/json"


# --- what reading an image may cost (issue 25): the bench's attack files, refused before they cost anything ---

def cpu_seconds_of_post(data: bytes):
    """POST the image to /api/predict as a file; the response and the CPU seconds the request took."""
    start = time.process_time()
    response = Client().post("/api/predict", {"file": as_upload(data, "attack.bin")})
    return response, time.process_time() - start


@pytest.mark.django_db
@pytest.mark.parametrize("bits", [4, 8])
def test_a_run_length_bmp_is_refused_in_plain_words_before_it_costs_anything(active_model_version, bits):
    data = rle_bmp(drawn_indices(), bits)  # 4096x4096 in ~150 KB: 0.1-1.2 s of Python had gone into decoding it
    assert Image.open(io.BytesIO(data)).info["compression"] == {8: 1, 4: 2}[bits]
    response, cpu = cpu_seconds_of_post(data)
    assert response.status_code == 400
    assert response.json()["error"] == ("This BMP uses run-length compression, which the site does not read; "
                                        "save it as PNG.")
    assert cpu < 0.5


@pytest.mark.django_db
def test_an_uncompressed_bmp_is_still_read(active_model_version):
    response = Client().post("/api/predict", {"file": as_upload(encode(draw(mode="RGB", background="white"), "BMP"))})
    assert response.status_code == 200, response.content
    assert response.json()["digit"] == 7


ATTACKS = {  # bench/decode_cost.py's case -> a words of its refusal; each had cost the site 0.4-2.5 s
    "png 280 px + 2 MB of empty chunks": "more than 4,096 pieces",
    "png 1-byte IDAT chunks": "more than 4,096 pieces",
    "png 280 px + 64 zTXt of 1 MB": "compressed text",
    "gif 280 px + 5 MB of 1-byte comment blocks": "more than 4,096 pieces",
    "jpeg 280 px + 5 MB of comment markers": "more than 4,096 pieces",
    "jpeg 280 px + 5 MB of stray bytes": "more than 4,096 pieces",
    "jpeg progressive + 2,000 empty scans": "several scans",
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", sorted(ATTACKS))
def test_a_file_built_to_make_the_decoder_loop_is_refused_quickly(active_model_version, case):
    response, cpu = cpu_seconds_of_post(CASES[case]())
    assert response.status_code == 400
    assert ATTACKS[case] in response.json()["error"]
    assert cpu < 0.5


def test_a_lossless_or_arithmetic_coded_jpeg_is_refused_from_its_frame_marker():
    baseline = encode(draw(mode="RGB", background="white"), "JPEG")
    lossless = baseline.replace(b"\xff\xc0", b"\xff\xc3", 1)  # the frame marker says lossless; Pillow would try it
    with pytest.raises(InvalidImage, match="lossless, hierarchical or arithmetic coding"):
        prepare_digit(lossless, max_pixels=4096 * 4096)


@pytest.mark.parametrize(("mode", "side", "most"), [("RGBA", 1500, 1501), ("RGB", 1732, 1733), ("L", 3000, 3001)])
def test_a_png_is_read_up_to_the_pixels_its_colours_allow_and_refused_past_them(mode, side, most):
    # decode_budget: 9 MB of decoded samples, whatever their shape
    def png_of(width: int) -> bytes:
        ink, paper = {"L": (0, 255), "RGB": ((0,) * 3, (255,) * 3), "RGBA": ((0, 0, 0, 255), (255,) * 4)}[mode]
        return encode(draw(size=(width, side), mode=mode, ink=ink, background=paper))

    assert prepare_digit(png_of(side), max_pixels=4096 * 4096).shape == (28, 28)
    with pytest.raises(InvalidImage, match=f"{most}×{side} pixels; .* Save it smaller, or as JPEG"):
        prepare_digit(png_of(most), max_pixels=4096 * 4096)
