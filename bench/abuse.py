"""What an anonymous attacker can make the site spend, and what it gets back: one row per attack (issue 25).

    .venv/bin/python -m bench.abuse        # defaults; about 2-3 minutes

A throwaway site (bench/harness: gunicorn 2 workers x 4 threads, a training worker beside it) runs **with the
rate limiter on**, as in production, with its own counts file; the budgets are what is measured. One budget is
lowered so that it is reached within the bench: ``MAX_SAMPLES_PER_NETWORK_PER_DAY`` is ``--daily-samples`` (100,
production 2000); every other setting is the production default. Each attack comes from a loopback address of its
own (127.0.0.11, .12, ...; gunicorn sees it as the client address), so no attack spends another's budget, as from
separate attackers. Before the attacks a victim session (127.0.0.2) saves 3 drawings and an extra, inactive shared
model version is added (the staff's rollback target that a cookie-less DELETE once deleted).

1. Cookie-less ``DELETE /api/model``, ``/api/samples`` and ``/api/me`` in turn (a CSRF token, no session cookie
   or a forged one): nothing may be deleted; shared versions are counted before and after.
2. Decode bombs to ``/api/predict``: a 4096x4096 RLE4 BMP and an RLE8 BMP (~148 KB each: runs of 255 pixels,
   which Pillow expands in Python), a 4096x4096 PNG of noise and a progressive JPEG of noise at the pixel limit.
3. Cookie-dropping sample flood: ``POST /api/samples`` with a CSRF token but never the session cookie, each a
   noisy 1024x1024 drawing: every save makes a new session.
4. Poll flood: cookie-less (and forged-cookie) ``GET /api/train`` and ``GET /api/samples``: must write nothing.
5. Training flood: sessions from one address each save 3 drawings and ``POST /api/train`` (twice); then
   cookie-less ``POST /api/train``. The worker's queue is left to drain (up to ``--drain-seconds``).
6. Admin sign-in guesser: ``POST /admin/login/`` with wrong passwords for a real staff account, then the right
   one.

Per attack: CPU of gunicorn (master and workers) and of the training worker, from /proc before and after; bytes
added under MEDIA_ROOT and MODEL_DIR; rows inserted, changed or deleted in every table of the database (read-only
snapshots by rowid); the answers in order ("201x100 then 429x200") and the first message of each kind. After an
attack the bench waits (up to 60 s) until no task is queued or running, so work an attack left for the worker
(scoring new samples, training runs) is counted with it. Prints a table, writes bench/results/abuse.json.
"""

import argparse
import http.client
import io
import json
import os
import re
import shutil
import sqlite3
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from bench.harness.client import MULTIPART_TYPE, Session, canvas_png, drawing_pool, multipart_body
from bench.harness.monitor import children, cpu_seconds, scan_logs
from bench.harness.processes import (
    DEFAULT_CHECKPOINT, Site, checkpoint_found, manage_shell, running_site, start_training_worker, stop_process,
    unwind_on_sigterm,
)
from bench.harness.results import RESULTS, code_state, machine_info, write_result

SIDE = 4096  # MAX_IMAGE_PIXELS = 4096 x 4096
UPLOAD_ROOM = 5 * 1024 * 1024 - 1024  # MAX_UPLOAD_BYTES less a multipart envelope
ADMIN = "admin"
# What a refusal's words say stopped it, for the answers column; every message is kept whole in the JSON.
REASONS = (("in a short time", "rate limit"), ("24 hours", "daily budget"), ("waiting for review", "site full"),
           ("already waiting or running", "runs per network"), ("already queued", "own run open"),
           ("already running", "own run open"), ("nothing to train", "no samples"),
           ("Too many failed sign-ins", "throttled"), ("correct username and password", "wrong password"))
PREPARE = """
import os
from pathlib import Path
from django.contrib.auth import get_user_model
from recognizer.ml.checkpoints import file_sha256, load_checkpoint
from recognizer.models import ModelVersion
from recognizer.weights import weights_upload
source = Path(os.environ["BENCH_CHECKPOINT"])
weights_upload(source, "bench-rollback-target.pt")
ModelVersion.objects.create(weights_name="bench-rollback-target.pt", weights_sha256=file_sha256(source),
                            architecture=load_checkpoint(source)[0].architecture, notes="inactive shared version")
get_user_model().objects.create_superuser("%s", password=os.environ["BENCH_ADMIN_PASSWORD"])
""" % ADMIN


@dataclass(frozen=True)
class Reply:
    status: str  # the HTTP status, or "error" when the connection failed
    message: str = ""


@dataclass
class Attack:
    name: str
    run: Callable[[Callable[[], "Client"]], list[Reply]]  # given a maker of clients from the attack's address
    notes: Callable[[dict], str] = lambda found: ""
    extra: dict = field(default_factory=dict)


class Client(Session):
    """A Session sent from its own loopback address, which the site takes for the client's address."""

    def __init__(self, port: int, address: str, timeout: float = 60.0) -> None:
        super().__init__(port, timeout)
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(address, 0))

    def send(self, method: str, path: str, body: bytes = b"", headers: dict | None = None, *,
             keep_session: bool = True) -> Reply:
        """One request; never raises for what the site or the connection does. Without ``keep_session`` the
        session cookie is dropped first (the CSRF cookie stays)."""
        if not keep_session:
            self.cookies.pop("sessionid", None)
        try:
            status, data = self.request(method, path, body, headers)
        except (OSError, http.client.HTTPException) as exc:
            return Reply("error", f"{type(exc).__name__}: {exc}")
        return Reply(str(status), _message(data))


def _message(data: bytes) -> str:
    try:
        found = json.loads(data)
        return found.get("error", "") if isinstance(found, dict) else ""
    except ValueError:  # a page: the admin's sign-in error, if any
        match = re.search(rb'class="errornote">\s*(.*?)\s*</p>', data, re.S)
        return match.group(1).decode(errors="replace") if match else ""


def label(reply: Reply) -> str:
    reason = next((name for words, name in REASONS if words in reply.message), "")
    return f"{reply.status} {reason}".strip()


def answers(replies: list[Reply]) -> str:
    """The answers in order, as runs ("201x100 then 429 rate limitx200"); as counts when they alternate."""
    runs: list[list] = []
    for reply in replies:
        if runs and runs[-1][0] == label(reply):
            runs[-1][1] += 1
        else:
            runs.append([label(reply), 1])
    if len(runs) <= 4:
        return " then ".join(f"{name} ×{count}" for name, count in runs)
    totals: dict[str, int] = {}
    for name, count in runs:
        totals[name] = totals.get(name, 0) + count
    return ", ".join(f"{name} ×{count}" for name, count in totals.items())


# --- what the site holds ------------------------------------------------------------------------------------

def table_rows(database: Path) -> dict[str, dict[int, tuple]]:
    """Every row of every table, by rowid, read through a read-only connection."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=20)
    try:
        tables = [name for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        return {table: {row[0]: row[1:] for row in connection.execute(f'SELECT rowid, * FROM "{table}"')}
                for table in tables}
    finally:
        connection.close()


def rows_written(before: dict, after: dict) -> dict[str, dict[str, int]]:
    """Per table that changed: rows inserted, updated (same rowid, other values) and deleted."""
    found = {}
    for table in sorted(set(before) | set(after)):
        old, new = before.get(table, {}), after.get(table, {})
        counts = {"inserted": len(new.keys() - old.keys()), "deleted": len(old.keys() - new.keys()),
                  "updated": sum(1 for key in old.keys() & new.keys() if old[key] != new[key])}
        if any(counts.values()):
            found[table] = counts
    return found


def stored_bytes(site: Site) -> dict[str, int]:
    """Bytes of the files under the site's MEDIA_ROOT and MODEL_DIR (as du --apparent-size counts them)."""
    return {folder: sum(path.stat().st_size for path in (site.tmp / folder).rglob("*") if path.is_file())
            for folder in ("media", "models")}


def query(site: Site, sql: str) -> int:
    connection = sqlite3.connect(f"file:{site.tmp / 'bench.db'}?mode=ro", uri=True, timeout=20)
    try:
        return connection.execute(sql).fetchone()[0]
    finally:
        connection.close()


def settle(site: Site, limit: float, horizon: float = 10.0) -> float:
    """Wait (at most ``limit`` s) until the task queue holds nothing running and nothing due within ``horizon`` s
    (new samples are scored SCORE_DELAY_SECONDS after their save; housekeeping waits an hour); the seconds
    waited."""
    began = time.monotonic()
    while time.monotonic() - began < limit:
        due = (datetime.now(UTC) + timedelta(seconds=horizon)).strftime("%Y-%m-%d %H:%M:%S.%f")
        if not query(site, "SELECT COUNT(*) FROM django_tasks_database_dbtaskresult WHERE status = 'RUNNING' "
                           f"OR (status = 'READY' AND run_after <= '{due}')"):
            break
        time.sleep(0.5)
    return time.monotonic() - began


@dataclass(frozen=True)
class Holdings:
    """What the site holds and has spent at one moment."""
    tables: dict
    stored: dict[str, int]
    web_cpu: float  # s, gunicorn's master and workers
    worker_cpu: float  # s, the training worker

    @classmethod
    def now(cls, site: Site, worker) -> "Holdings":
        return cls(table_rows(site.tmp / "bench.db"), stored_bytes(site),
                   cpu_seconds([site.gunicorn.pid, *children(site.gunicorn.pid)]),
                   cpu_seconds([worker.pid, *children(worker.pid)]))

    def spent_since(self, before: "Holdings", requests: int) -> dict:
        written = rows_written(before.tables, self.tables)
        grown = {f"{folder}_bytes": size - before.stored[folder] for folder, size in self.stored.items()}
        web_ms = 1000 * (self.web_cpu - before.web_cpu)
        return {"web_cpu_ms": round(web_ms, 1), "web_cpu_ms_per_request": round(web_ms / max(requests, 1), 2),
                "worker_cpu_ms": round(1000 * (self.worker_cpu - before.worker_cpu), 1), **grown,
                "bytes_stored": sum(grown.values()), "rows": written,
                "rows_written": sum(sum(c.values()) for c in written.values())}


def measured(site: Site, worker, attack: Attack, address: str, drain: float) -> dict:
    """Run one attack from ``address``; what it cost the site and what the attacker got back."""
    settle(site, 60.0)  # what earlier steps left for the worker is not this attack's
    before = Holdings.now(site, worker)
    began, minute = time.monotonic(), int(time.time() // 60)
    replies = attack.run(lambda: Client(site.port, address))
    seconds, crossed = time.monotonic() - began, int(time.time() // 60) - minute
    waited = settle(site, drain)
    messages: dict[str, str] = {}
    for reply in replies:
        messages.setdefault(label(reply), reply.message)
    found = {"attack": attack.name, "address": address, "requests": len(replies), "answers": answers(replies),
             "statuses": {s: sum(r.status == s for r in replies) for s in sorted({r.status for r in replies})},
             "messages": {k: v for k, v in messages.items() if v}, "seconds": round(seconds, 2),
             "minutes_crossed": crossed, "queue_wait_seconds": round(waited, 2),
             **Holdings.now(site, worker).spent_since(before, len(replies)), **attack.extra}
    found["notes"] = attack.notes(found) + ("; crossed into a new minute: the budgets renewed mid-attack"
                                            if crossed else "")
    return found


# --- what the attacker sends --------------------------------------------------------------------------------

def seven(side: int, noise: int, seed: int) -> np.ndarray:
    """A black 7 across a white ``side`` px square, greyscale, each pixel moved by up to ``noise`` at random."""
    image = Image.new("L", (side, side), 255)
    s = side / 280
    ImageDraw.Draw(image).line([(70 * s, 42 * s), (210 * s, 42 * s), (119 * s, 238 * s)], fill=0,
                               width=round(18 * s))
    pixels = np.asarray(image, dtype=np.int16)
    if noise:
        pixels = pixels + np.random.default_rng(seed).integers(-noise, noise + 1, pixels.shape, dtype=np.int16)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def encoded(pixels: np.ndarray, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt, **params)
    return buffer.getvalue()


def rle_bmp(bits: int) -> bytes:
    """A 4096x4096 run-length BMP (RLE8, or RLE4 with ``bits`` 4) in ~148 KB: every row is runs of 255 pixels (a
    2-byte code each), white above and below a black band; palette 0 white, 1 black."""
    ink = 0x11 if bits == 4 else 0x01

    def row(colour: int) -> bytes:
        return bytes([255, colour]) * (SIDE // 255) + bytes([SIDE % 255, colour, 0, 0])  # 0 0: end of line

    pixels = row(0) * (SIDE // 4) + row(ink) * (SIDE // 2) + row(0) * (SIDE // 4) + b"\x00\x01"  # end of bitmap
    palette = b"\xff\xff\xff\x00" + b"\x00" * 4 * ((1 << bits) - 1)
    offset = 14 + 40 + len(palette)
    header = b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset)
    info = struct.pack("<IiiHHIIiiII", 40, SIDE, SIDE, 1, bits, 2 if bits == 4 else 1, len(pixels), 2835, 2835,
                       1 << bits, 0)
    return header + info + palette + pixels


def largest_jpeg(pixels: np.ndarray) -> bytes:
    """``pixels`` as a progressive 4:4:4 JPEG at the best quality that fits an upload."""
    for quality in (95, 90, 80, 70, 60, 50, 40, 30):
        data = encoded(np.dstack([pixels] * 3), "JPEG", quality=quality, subsampling=0, progressive=True)
        if len(data) <= UPLOAD_ROOM:
            return data
    raise ValueError("no progressive JPEG of this noise fits an upload")


def bombs() -> dict[str, bytes]:
    """The decode bombs, by name: each a 7 at 4096x4096, as cheap to send as its encoding allows."""
    return {"RLE4 BMP": rle_bmp(4), "RLE8 BMP": rle_bmp(8),
            "PNG of noise": encoded(seven(SIDE, 1, seed=1), "PNG"),
            "progressive JPEG of noise": largest_jpeg(seven(SIDE, 24, seed=2))}


def with_csrf(client: Client, page: str = "/") -> Client:
    """The client after fetching ``page``: it holds a CSRF cookie, and no session (the page creates none)."""
    reply = client.send("GET", page)
    if reply.status != "200" or "csrftoken" not in client.cookies:
        raise RuntimeError(f"GET {page} gave no CSRF cookie: {reply}")
    client.cookies.pop("sessionid", None)
    return client


# --- the attacks --------------------------------------------------------------------------------------------

def deletes(site: Site, count: int) -> Attack:
    """Cookie-less and forged-cookie DELETEs of a visitor's model, samples and everything, with a CSRF token."""
    extra: dict = {}
    counted = {"shared_versions": "SELECT COUNT(*) FROM recognizer_modelversion WHERE kind = 'shared'",
               "samples": "SELECT COUNT(*) FROM recognizer_sample"}

    def run(client_for: Callable[[], Client]) -> list[Reply]:
        client = with_csrf(client_for())
        extra["before"] = {name: query(site, sql) for name, sql in counted.items()}
        replies = []
        for i in range(count):
            if i % 2:
                client.cookies["sessionid"] = "x" * 32  # a key the site never issued
            else:
                client.cookies.pop("sessionid", None)
            replies.append(client.send("DELETE", ("/api/model", "/api/samples", "/api/me")[i % 3]))
        extra["after"] = {name: query(site, sql) for name, sql in counted.items()}
        return replies

    return Attack("1 cookie-less DELETE /api/model, /api/samples, /api/me", run, extra=extra, notes=lambda f: (
        f"shared versions {extra['before']['shared_versions']} → {extra['after']['shared_versions']}, "
        f"victim's samples {extra['before']['samples']} → {extra['after']['samples']}"))


def decode_bomb(name: str, data: bytes, count: int, seconds: float) -> Attack:
    body = multipart_body(data)

    def run(client_for: Callable[[], Client]) -> list[Reply]:
        client, replies, began = client_for(), [], time.monotonic()
        while len(replies) < count and time.monotonic() - began < seconds:
            replies.append(client.send("POST", "/api/predict", body, {"Content-Type": MULTIPART_TYPE}))
        return replies

    return Attack(f"2 decode bomb: {name}", run, extra={"upload_bytes": len(data)},
                  notes=lambda f: f"{len(data) / 1024:.0f} KB upload")


def sample_flood(count: int) -> Attack:
    """POST /api/samples without ever sending the session cookie back: each save is a new session's first."""
    bodies = [multipart_body(encoded(seven(1024, 12, seed=10 + k), "PNG"), {"label": "7"}) for k in range(4)]

    def run(client_for: Callable[[], Client]) -> list[Reply]:
        client = with_csrf(client_for())
        return [client.send("POST", "/api/samples", bodies[i % len(bodies)], {"Content-Type": MULTIPART_TYPE},
                            keep_session=False) for i in range(count)]

    def notes(found: dict) -> str:
        accepted = found["statuses"].get("201", 0)
        per = found["bytes_stored"] / accepted if accepted else 0
        found["bytes_per_accepted_sample"] = round(per)
        sessions = found["rows"].get("django_session", {}).get("inserted", 0)
        return (f"{accepted} kept, {per / 1024:.0f} KB stored each (upload ~{len(bodies[0]) / 1024:.0f} KB); "
                f"{sessions} sessions written, {sessions - accepted} of them by refused saves")

    return Attack("3 cookie-dropping sample flood (noisy 1024² PNG)", run, notes=notes)


def poll_flood(count: int) -> Attack:
    def run(client_for: Callable[[], Client]) -> list[Reply]:
        client, replies = client_for(), []
        for i in range(count):
            client.cookies.clear()
            if i % 4 >= 2:
                client.cookies["sessionid"] = "y" * 32
            replies.append(client.send("GET", ("/api/train", "/api/samples")[i % 2]))
        return replies

    return Attack("4 GET poll flood /api/train, /api/samples", run)


def training_flood(site: Site, sessions: int) -> Attack:
    """``sessions`` sessions from one address each save 3 drawings and ask for a run, then ask again."""
    pool = drawing_pool(3 * sessions, seed=25)
    statuses = "SELECT COUNT(*) FROM training_trainingrun WHERE status = '%s'"

    def run(client_for: Callable[[], Client]) -> list[Reply]:
        clients, replies = [with_csrf(client_for()) for _ in range(sessions)], []
        for k, client in enumerate(clients):
            for body, _ in pool[3 * k:3 * k + 3]:
                replies.append(client.send("POST", "/api/samples", body, {"Content-Type": MULTIPART_TYPE}))
            replies.append(client.send("POST", "/api/train"))
        replies += [client.send("POST", "/api/train") for client in clients]
        return replies

    def notes(found: dict) -> str:
        runs = {state: query(site, statuses % state) for state in
                ("queued", "running", "succeeded", "rejected", "failed", "cancelled")}
        found["runs_after_drain"] = {state: n for state, n in runs.items() if n}
        return (f"{sessions} sessions: runs queued {found['statuses'].get('202', 0)}; after "
                f"{found['queue_wait_seconds']:.0f} s: " + ", ".join(f"{n} {s}" for s, n in runs.items() if n)
                + f"; weights {human_bytes(found['models_bytes'])}; worker CPU {found['worker_cpu_ms'] / 1000:.1f} s")

    return Attack("5 training flood (sessions from one address)", run, notes=notes)


def train_without_session(count: int) -> Attack:
    def run(client_for: Callable[[], Client]) -> list[Reply]:
        client = with_csrf(client_for())
        return [client.send("POST", "/api/train", keep_session=False) for _ in range(count)]

    return Attack("5b cookie-less POST /api/train", run, notes=lambda f: "session rows written by refused requests: "
                  f"{f['rows'].get('django_session', {}).get('inserted', 0)}")


def sign_in_guesser(count: int, password: str) -> Attack:
    extra: dict = {}

    def attempt(client: Client, secret: str) -> Reply:
        body = f"username={ADMIN}&password={secret}&next=/admin/".encode()
        return client.send("POST", "/admin/login/?next=/admin/", body,
                           {"Content-Type": "application/x-www-form-urlencoded"})

    def run(client_for: Callable[[], Client]) -> list[Reply]:
        client = with_csrf(client_for(), "/admin/login/")
        replies = [attempt(client, f"guess-{i}") for i in range(count)]
        extra["right_password_after"] = label(attempt(client, password))
        return replies

    return Attack("6 admin sign-in guesser", run, extra=extra,
                  notes=lambda f: f"then the right password: {extra['right_password_after']}")


# --- the run ------------------------------------------------------------------------------------------------

def human_bytes(count: int) -> str:
    for unit, size in (("MB", 2**20), ("KB", 2**10)):
        if abs(count) >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} B"


TABLE_NAMES = {"django_session": "sessions", "recognizer_sample": "samples", "recognizer_modelversion": "versions",
               "training_trainingrun": "runs", "training_trainingrun_samples": "run-samples",
               "django_tasks_database_dbtaskresult": "tasks", "recognizer_personalmodel": "personal",
               "django_admin_log": "admin log", "auth_user": "users"}


def rows_summary(rows: dict) -> str:
    parts = []
    for table, counts in rows.items():
        marks = "".join(f"{sign}{counts[key]}" for sign, key in (("+", "inserted"), ("~", "updated"),
                                                               ("-", "deleted")) if counts[key])
        parts.append(f"{TABLE_NAMES.get(table, table)} {marks}")
    return f"{sum(sum(c.values()) for c in rows.values())}" + (f" ({', '.join(parts)})" if parts else "")


def print_table(rows: list[dict]) -> None:
    print("| attack | requests | answers | CPU ms total | CPU ms / request | bytes stored | rows written | notes |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['attack']} | {r['requests']} | {r['answers']} | {r['web_cpu_ms']:.0f} | "
              f"{r['web_cpu_ms_per_request']:.1f} | {human_bytes(r['bytes_stored'])} | {rows_summary(r['rows'])} | "
              f"{r['notes']} |")
    print("CPU: gunicorn's master and workers; the training worker's is in the notes and the JSON. "
          "rows: + inserted, ~ updated, - deleted.")
    for r in rows:
        for name, message in r["messages"].items():
            print(f"  {r['attack'][:40]}: {name}: {message}")


COUNTS = (("deletes", 300, "cookie-less DELETEs"), ("bombs", 20, "requests per decode bomb at most"),
          ("samples", 300, "sample-flood requests"), ("polls", 800, "GET poll-flood requests"),
          ("daily-samples", 100, "the site's MAX_SAMPLES_PER_NETWORK_PER_DAY during the bench"),
          ("sessions", 8, "training-flood sessions"), ("cookieless-trains", 40, "cookie-less POST /api/train"),
          ("guesses", 40, "wrong admin passwords"))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    for name, default, words in COUNTS:
        parser.add_argument(f"--{name}", type=int, default=default, help=f"{words} (default {default})")
    parser.add_argument("--bomb-seconds", type=float, default=8.0, help="seconds per decode bomb at most (8)")
    parser.add_argument("--drain-seconds", type=float, default=60.0,
                        help="how long the training flood's runs may take to drain (default 60)")
    parser.add_argument("--window-margin", type=float, default=15.0,
                        help="start an attack in a new minute when fewer seconds than this are left (default 15)")
    parser.add_argument("--only", type=lambda text: text.split(","), default=[],
                        help="comma-separated attack numbers to run (1,2,3,4,5,5b,6); default all")
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def attacks(args: argparse.Namespace, site: Site, password: str) -> list[Attack]:
    made = bombs()
    return [deletes(site, args.deletes),
            *(decode_bomb(name, data, args.bombs, args.bomb_seconds) for name, data in made.items()),
            sample_flood(args.samples), poll_flood(args.polls), training_flood(site, args.sessions),
            train_without_session(args.cookieless_trains), sign_in_guesser(args.guesses, password)]


def victim(site: Site) -> None:
    """A session of someone else's, from its own address, keeping 3 drawings."""
    client = with_csrf(Client(site.port, "127.0.0.2"))
    png, label_ = canvas_png()
    body = multipart_body(png, {"label": str(label_)})
    replies = [client.send("POST", "/api/samples", body, {"Content-Type": MULTIPART_TYPE}) for _ in range(3)]
    if any(r.status != "201" for r in replies):
        raise RuntimeError(f"the victim's samples were refused: {replies}")


def fresh_window(margin: float) -> float:
    """Wait for the next minute when less than ``margin`` s of this one are left: the budgets count in fixed
    windows (a minute for most), and an attack that straddles two gets a second budget halfway. The seconds
    waited."""
    left = 60 - time.time() % 60
    if left >= margin:
        return 0.0
    time.sleep(left + 0.05)
    return left


def measure(args: argparse.Namespace, rate_store: Path) -> tuple[list[dict], dict, dict]:
    settings = {"RATE_LIMIT_ENABLED": "true", "RATE_LIMIT_STORE": str(rate_store),
                "MAX_SAMPLES_PER_NETWORK_PER_DAY": str(args.daily_samples)}
    password = os.urandom(12).hex()
    with running_site(args.checkpoint, args.workers, args.threads, extra_env=settings) as site:
        worker = start_training_worker(site.env, site.tmp)
        try:
            manage_shell({**site.env, "BENCH_ADMIN_PASSWORD": password}, PREPARE)
            victim(site)
            rows = []
            for k, attack in enumerate(attacks(args, site, password)):
                if args.only and attack.name.split()[0] not in args.only:
                    continue
                fresh_window(args.window_margin)
                drain = args.drain_seconds if attack.name.startswith("5 ") else 60.0
                rows.append(measured(site, worker, attack, f"127.0.0.{11 + k}", drain))
                row = rows[-1]
                print(f"{attack.name}: {row['answers']} ({row['seconds']:.1f} s, then {row['queue_wait_seconds']:.1f}"
                      f" s for the queue{'; crossed a minute' if row['minutes_crossed'] else ''})", flush=True)
        finally:
            stop_process(worker)
            logs = scan_logs(site.tmp)
    return rows, settings, logs


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not checkpoint_found(args.checkpoint):
        return 2
    unwind_on_sigterm()
    began = time.monotonic()
    rate_store = Path(tempfile.mkdtemp(prefix="mnistsite-abuse-")) / "ratelimit.sqlite3"
    try:
        rows, settings, logs = measure(args, rate_store)
    finally:
        shutil.rmtree(rate_store.parent, ignore_errors=True)
    print_table(rows)
    print(f"{time.monotonic() - began:.0f} s in all")
    write_result(args.out, "abuse.json", {"machine": machine_info(), "code": code_state(), "args": vars(args),
                                          "site_settings": settings, "attacks": rows, "logs": logs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
