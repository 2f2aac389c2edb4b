"""The HTTP client the benchmarks measure a site with: the requests they send (an Endpoint, the drawings as
multipart or JSON data-URL bodies), one-off requests and posts that read the JSON answer, and a browser Session
(keep-alive, cookies, CSRF)."""

import base64
import functools
import http.client
import json
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie

import numpy as np

from training.ml.canvas import load_mnist_test, render_canvas_sample

CANVAS_DIGIT = 0  # MNIST test image #0, a 7
BOUNDARY = "----mnistsite-bench-boundary"
MULTIPART_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str
    body: bytes
    headers: dict


HEALTH = Endpoint("health (trivial)", "GET", "/api/health", b"", {})


# --- request bodies ----------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def mnist_test() -> tuple[np.ndarray, np.ndarray]:
    """The MNIST test images and labels, read once per process (callers must not modify them)."""
    return load_mnist_test()


def canvas_png() -> tuple[bytes, int]:
    """A 280x280 transparent RGBA canvas with one MNIST test digit drawn on it, and the digit's label."""
    images, labels = mnist_test()
    data = render_canvas_sample(images[CANVAS_DIGIT], "canvas-rgba-png", np.random.default_rng(0), size=(280, 280))
    return data, int(labels[CANVAS_DIGIT])


def multipart_body(png: bytes, fields: dict[str, str] | None = None) -> bytes:
    """A multipart/form-data body (content type MULTIPART_TYPE) with ``fields`` and the PNG as field ``file``."""
    parts = [f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n".encode()
             for name, value in (fields or {}).items()]
    parts.append((f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"canvas.png\"\r\n"
                  f"Content-Type: image/png\r\n\r\n").encode() + png + f"\r\n--{BOUNDARY}--\r\n".encode())
    return b"".join(parts)


def drawing_pool(count: int, seed: int, *, size: tuple[int, int] | None = None,
                 shuffle: bool = True) -> list[tuple[bytes, int]]:
    """``count`` multipart sample bodies (their content type is MULTIPART_TYPE), each with its correct label:
    MNIST test digits (different ones at random, or the first ``count`` without ``shuffle``) on canvases of
    random size (or ``size``), as a browser posts them."""
    images, labels = mnist_test()
    rng = np.random.default_rng(seed)
    pool = []
    for index in rng.permutation(len(images))[:count] if shuffle else range(count):
        png = render_canvas_sample(images[index], "canvas-rgba-png", rng, size=size)
        pool.append((multipart_body(png, {"label": str(int(labels[index]))}), int(labels[index])))
    return pool


def predict_multipart(png: bytes) -> Endpoint:
    return Endpoint("predict multipart", "POST", "/api/predict", multipart_body(png), {"Content-Type": MULTIPART_TYPE})


def predict_data_url(image: bytes, mime: str = "image/png") -> Endpoint:
    """The image as the drawing pad sends it: a JSON body holding a base64 data URL."""
    body = json.dumps({"image": f"data:{mime};base64,{base64.b64encode(image).decode()}"}).encode()
    return Endpoint("predict json data-url", "POST", "/api/predict", body, {"Content-Type": "application/json"})


def active_version(port: int, endpoint: Endpoint) -> int | None:
    """The model version that answers ``endpoint`` (a prediction) now; None unless it answers 200."""
    status, body = request_once(port, endpoint)
    return json.loads(body)["model_version"] if status == 200 else None


# --- requests ----------------------------------------------------------------------------------------------

def request_once(port: int, endpoint: Endpoint) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(endpoint.method, endpoint.path, body=endpoint.body or None, headers=endpoint.headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


ANSWERED, REFUSED, ERROR = "answered", "refused", "error"


@dataclass(frozen=True)
class Posted:
    """What one POST came to: ANSWERED (200, with its JSON), REFUSED (4xx, with its error) or ERROR (no answer, a
    5xx or an unreadable body, with what went wrong)."""
    outcome: str
    status: int | None = None
    reply: dict | None = None
    message: str = ""


def post_for_json(port: int, endpoint: Endpoint) -> Posted:
    """Post once and read the JSON answer; never raises for what the site or the connection does."""
    try:
        status, body = request_once(port, endpoint)
    except (OSError, http.client.HTTPException) as exc:
        return Posted(ERROR, message=f"{type(exc).__name__}: {exc}")
    try:
        reply = json.loads(body)
    except ValueError as exc:
        return Posted(ERROR, status, message=f"unreadable answer ({exc}): {body[:120]!r}")
    if status == 200 and isinstance(reply, dict):
        return Posted(ANSWERED, status, reply)
    message = reply.get("error", "") if isinstance(reply, dict) else ""
    return Posted(REFUSED if 400 <= status < 500 else ERROR, status, message=message)


class Session:
    """A browser session: one keep-alive connection carrying its cookies and the CSRF token Django set.

    gunicorn closes a connection idle for its keepalive (2 s by default); like a browser, the session opens a
    new one rather than send on a connection the server may be closing."""

    IDLE_REOPEN_S = 1.0

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.cookies: dict[str, str] = {}
        self.last_used = 0.0

    def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> tuple[int, bytes]:
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if "csrftoken" in self.cookies and method not in {"GET", "HEAD"}:
            headers["X-CSRFToken"] = self.cookies["csrftoken"]
        if time.monotonic() - self.last_used > self.IDLE_REOPEN_S:
            self.conn.close()  # http.client opens a new connection on the next request
        try:
            self.conn.request(method, path, body=body or None, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            raise
        finally:
            self.last_used = time.monotonic()
        for header in response.headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(header)
            self.cookies.update({name: morsel.value for name, morsel in jar.items()})
        return response.status, data

    def close(self) -> None:
        self.conn.close()
