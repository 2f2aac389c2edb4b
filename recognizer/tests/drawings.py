"""Synthetic drawings for tests: a digit-like stroke path rendered the way a canvas or a scanner would."""

import io

from PIL import Image, ImageDraw

# A "7": top bar, then the diagonal down to the foot, in unit coordinates of its box.
SEVEN = [(0.0, 0.0), (1.0, 0.0), (0.35, 1.0)]


def draw(
    *,
    size: tuple[int, int] = (280, 280),
    box: tuple[float, float, float, float] = (0.25, 0.15, 0.75, 0.85),
    width: int = 18,
    ink: tuple = (0, 0, 0, 255),
    background: tuple = (0, 0, 0, 0),
    mode: str = "RGBA",
    path: list[tuple[float, float]] = SEVEN,
) -> Image.Image:
    """Draw ``path`` as a round-capped polyline inside ``box`` (fractions of the canvas)."""
    image = Image.new(mode, size, background)
    w, h = size
    left, top, right, bottom = box
    points = [(w * (left + x * (right - left)), h * (top + y * (bottom - top))) for x, y in path]
    pen = ImageDraw.Draw(image)
    pen.line(points, fill=ink, width=width, joint="curve")
    radius = width / 2
    for x, y in (points[0], points[-1]):
        pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=ink)
    return image


def encode(image: Image.Image, fmt: str = "PNG", **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def canvas_png(**kwargs) -> bytes:
    """What a browser canvas's toDataURL() posts: dark ink on a fully transparent background."""
    return encode(draw(**kwargs))


def as_upload(data: bytes, name: str = "drawing.png") -> io.BytesIO:
    """Bytes the Django test client posts as a file field (it needs a name)."""
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def sideways_photo(image: Image.Image) -> bytes:
    """A JPEG as a phone camera stores it: the pixels turned a quarter to the left, with the EXIF orientation
    (6: turn right to view) that tells a viewer how to show ``image`` upright."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(image.convert("RGB").transpose(Image.Transpose.ROTATE_90), "JPEG", quality=95, exif=exif)
