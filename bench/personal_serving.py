"""Personal model serving at scale: prediction latency with personal models against the shared one under the
same load, model loads per web worker, and web worker memory, at 10, 100, 500 and 2 000 personal models.

    .venv/bin/python -m bench.personal_serving    # defaults: --trained 3 --models 10,100,500,2000 --clients 16

A throwaway site (bench/harness: gunicorn 2 workers x 4 threads, gthread, rate limit off; LOG_LEVEL=INFO so each
model load is logged; bench/gunicorn_pid_logs.py puts each worker's pid on those lines) and, at first, a real
training worker.

1. ``--trained`` sessions each save 20 pen-drawn digits and train a personal model through the API (POST
   /api/train, poll, first prediction personal): PersonalAdapter-v1 versions. The training worker then stops.
2. For each count of ``--models``, in turn, on the same site: personal models are added up to that count through
   the Django shell, in bulk, not through training (2 000 runs would take hours): for each, a new stored session
   (Django's SessionStore, as the site makes one: its cookie is accepted like any other) and a copy of a trained
   version's adapter (``load_adapter`` on its parent), its output layer nudged by N(0, 1e-4) until the float16
   numbers stored differ from every other model's (a 1e-4 nudge of the 10 biases alone is mostly rounded away in
   float16), stored with ``model_version_create`` and switched on with ``personal_model_promote`` as the worker
   does. Every stored file's size is read back (target <= 150 KB).
3. Warm-up (the cold loads): the sessions whose weights are not yet resident in a web worker (read from the
   log lines) each predict once on a connection to that worker (``--warm-clients`` connections, 1 by default),
   one worker after the other, so each load is timed with the rest of the site idle; again for what is still
   missing, at most ``--warm-rounds`` times.
4. Load: ``--clients`` threads (16), each with one keep-alive connection, half of them on each web worker (a
   keep-alive connection stays with the worker that accepted it: an uneven split makes answer times bimodal and
   p50 meaningless; which worker holds a connection is read from /proc), the same 280x280 canvas PNG, in blocks
   of ``--block`` seconds, the kind changing for all clients at once: personal (each request with the cookie of
   the next session in a rotation over all of them, so every session is hit again and again), shared (no
   cookies) and, to tell the session's cost from the model's, a session without a personal model (read by the
   shared model); ``--blocks`` blocks of each. Every answer is checked: the session's own version and personal,
   or the shared version and not personal. Target: personal p50 <= 1.2x shared p50 (no cookies) at every count.
   The ratio is also taken per cycle (one block of each kind, back to back): its spread is the machine's noise.
5. Memory: VmRSS and VmHWM of every web worker after each count (and every 0.5 s throughout,
   bench.load.MemorySampler). Target: every web worker under 1 GB with every personal model resident in it.

6. Costs, in a Django shell on the site's database (one thread, as a web worker): ``--cost-loads`` cold loads
   timed step by step (the calls PredictorCache._load makes), then every personal model loaded and a full
   garbage collection timed (what a web worker holding them all pauses for), and the CPU ms of an in-process
   prediction of each kind (Django's test client: no HTTP, nothing else running in the process).

Model loads: the "Loaded model vN ... (X ms, K KB)" lines of personal versions, per worker pid. Targets: no
version loaded twice by one worker (so at most sessions x workers loads), and cold load time (X) p50 and max
<= 5 ms. Writes bench/results/personal_serving.json.
"""

import argparse
import http.client
import itertools
import json
import os
import re
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from bench.harness.client import MULTIPART_TYPE, canvas_png, multipart_body
from bench.harness.monitor import children, process_memory, resident_by_file, scan_logs
from bench.harness.processes import DEFAULT_CHECKPOINT, SITE_SETTINGS, manage_shell, running_site, stop_process
from bench.harness.results import RESULTS, fmt, pass_fail, summarise
from bench.load import WEB_WORKER_LIMIT_MIB, MemorySampler
from bench.pen_digits import iter_pen_digits
from bench.personal import ApiError, PersonalSession, run_benchmark, start_ready_worker
from bench.personal_training import FAMILY

TARGET_P50_RATIO = 1.2      # personal p50 / shared p50 under the same load
TARGET_LOAD_MS = 5.0        # a cold load of a personal model in a web worker, p50 and max
TARGET_FILE_BYTES = 150_000  # a stored personal model
# Mapped files that only a CUDA build of PyTorch brings (CUDA libraries, Triton): a CPU-only wheel has none.
GPU_LIBRARIES = re.compile(r"/nvidia/|/triton/|libtorch_cuda|/cuda/bindings/|nvjpeg")
TRAIN_DRAWINGS = 20
PID_LOGS = Path(__file__).resolve().with_name("gunicorn_pid_logs.py")
# recognizer.inference: "Loaded model %s for predictions (%.1f ms, %d KB)", the pid put in front by PID_LOGS
LOADED = re.compile(r"\[pid (\d+)\] Loaded model v(\d+)\b.* for predictions \(([\d.]+) ms, (\d+) KB\)")
KINDS = {"personal": "personal model (rotating sessions)", "shared": "shared, no cookies",
         "session": "shared, session without a personal model"}

COPIES = """
import hashlib, json, os, torch
from importlib import import_module
from pathlib import Path
from django.conf import settings
from django.utils import timezone
from recognizer.ml.figures import VersionFigures
from recognizer.models import ModelVersion
from recognizer.versions import model_version_create, personal_model_promote
from recognizer.visitors import Visitor
from recognizer.weights import weights_size
plan = json.loads(Path(os.environ["BENCH_PLAN"]).read_text())
store, today = import_module(settings.SESSION_ENGINE).SessionStore, timezone.now().date().isoformat()
generator = torch.Generator().manual_seed(plan["seed"])
seen, sources, made, plain = set(plan["seen"]), {}, [], []

def new_session():
    session = store()
    session["seen"] = today  # as recognizer.http keeps it: the session's predictions today write nothing
    session.create()
    return session.session_key

def fingerprint(adapter):  # of the float16 numbers stored
    digest = hashlib.sha256()
    for name, value in sorted(adapter.adapter_state().items()):
        digest.update(name.encode())
        digest.update(value.half().numpy().tobytes())
    return digest.hexdigest()[:20]

for k in range(plan["copies"]):
    source_id = plan["sources"][(plan["start"] + k) % len(plan["sources"])]
    if source_id not in sources:
        source = ModelVersion.objects.select_related("parent").get(pk=source_id)
        assert source.is_adapter, f"{source} is no personal adapter: {source.architecture}"
        adapter = source.load_adapter(source.parent.load_network())
        original = {name: value.detach().clone() for name, value in adapter.output.named_parameters()}
        sources[source_id] = (source, adapter, original, fingerprint(adapter))
        seen.add(sources[source_id][3])
    source, adapter, original, _ = sources[source_id]
    key, tries = new_session(), 0
    while True:
        tries += 1
        with torch.no_grad():
            for name, value in adapter.output.named_parameters():
                value.copy_(original[name] + torch.randn(value.shape, generator=generator) * plan["nudge"])
        mark = fingerprint(adapter)
        if mark not in seen:
            break
    seen.add(mark)
    version = model_version_create(
        network=adapter, name_prefix="benchcopy", owner=Visitor(key), parent=source.parent,
        metadata={"copy_of": source_id}, figures=VersionFigures(), trained_on=source.trained_on, gate_passed=True,
        gate_reason=f"benchmark copy of v{source_id}", notes=f"benchmark copy of v{source_id}, nudged")
    personal_model_promote(visitor=Visitor(key), version=version)
    made.append([key, version.pk, weights_size(version.weights_name), mark, tries])
plain = [new_session() for _ in range(plan["plain"])]
print(json.dumps({"made": made, "plain": plain, "sources": {pk: s[3] for pk, s in sources.items()}}))
"""

SIZES = """
import json, os
from recognizer.models import ModelVersion
from recognizer.weights import weights_size
ids = json.loads(os.environ["BENCH_VERSIONS"])
found = ModelVersion.objects.filter(pk__in=ids)
print(json.dumps({v.pk: [v.architecture, weights_size(v.weights_name)] for v in found}))
"""

# Where a cold load's time goes and what a prediction costs, in one process with one thread (a web worker's
# INFERENCE_THREADS): the steps of PredictorCache._load timed one by one through the same public calls (the
# version's row, its checked file, adapter_from_bytes, PersonalNetwork), then the whole load through a cache.
COSTS = """
import gc, json, os, time, torch
from collections import defaultdict
from pathlib import Path
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from recognizer.inference import PredictorCache
from recognizer.ml.personal import PersonalNetwork, adapter_from_bytes
from recognizer.models import ModelVersion
torch.set_num_threads(1)
plan = json.loads(Path(os.environ["BENCH_PLAN"]).read_text())
cache, parts = PredictorCache(2**30), defaultdict(list)
parent = cache.get(plan["parent"])
for pk in plan["versions"]:
    marks = [time.perf_counter()]
    version = ModelVersion.objects.select_related("parent").filter(pk=pk).first()
    marks.append(time.perf_counter())
    data = version.checked_weights().read_bytes()
    marks.append(time.perf_counter())
    adapter = adapter_from_bytes(data, parent, parent_sha256=version.parent.weights_sha256)
    marks.append(time.perf_counter())
    PersonalNetwork(parent, adapter)
    marks.append(time.perf_counter())
    for name, began, ended in zip(plan["parts"], marks, marks[1:]):
        parts[name].append((ended - began) * 1000)
    began = time.perf_counter()
    cache.get(pk)
    parts["whole load (PredictorCache)"].append((time.perf_counter() - began) * 1000)
before, rest = len(gc.get_objects()), [pk for pk in plan["all"] if pk not in cache]
for pk in rest:  # every personal model resident, as in a web worker
    cache.get(pk)
after, pauses = len(gc.get_objects()), []
for _ in range(3):
    began = time.perf_counter()
    gc.collect()
    pauses.append((time.perf_counter() - began) * 1000)
collector = {"models_resident": len(cache) - 1, "objects_per_model": (after - before) / max(len(rest), 1),
             "objects_tracked": after, "full_collection_ms": pauses}
png, cpu = Path(plan["png"]).read_bytes(), defaultdict(list)
clients = {kind: Client(HTTP_HOST="127.0.0.1") for kind in plan["keys"]}
for kind, key in plan["keys"].items():
    if key:
        clients[kind].cookies["sessionid"] = key
for lap in range(plan["rounds"] + 1):
    for kind, client in clients.items():
        began = time.process_time()
        for _ in range(plan["requests"]):
            answer = client.post("/api/predict", {"file": SimpleUploadedFile("canvas.png", png, "image/png")})
            assert answer.status_code == 200 and answer.json()["personal"] == (kind == "personal"), answer.content[:200]
        if lap:  # the first round warms up
            cpu[kind].append((time.process_time() - began) * 1000 / plan["requests"])
print(json.dumps({"parts": parts, "cpu_ms": cpu, "gc": collector}))
"""
LOAD_PARTS = ["ModelVersion query", "checksum and read", "adapter_from_bytes", "PersonalNetwork"]


def counts(text: str) -> list[int]:
    return sorted({int(x) for x in text.split(",")})


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trained", type=int, default=3, help="sessions that train a real personal model")
    parser.add_argument("--models", type=counts, default=[10, 100, 500, 2000],
                        help="personal models to measure at, comma-separated (default 10,100,500,2000)")
    parser.add_argument("--clients", type=int, default=16, help="client threads (default 16)")
    parser.add_argument("--block", type=float, default=2.0, help="seconds per block of one kind (default 2)")
    parser.add_argument("--blocks", type=int, default=15, help="blocks of each kind per count (default 15)")
    parser.add_argument("--plain", type=int, default=50, help="sessions without a personal model (default 50)")
    parser.add_argument("--warm-clients", type=int, default=1,
                        help="warm-up: connections per worker loading the missing models (default 1)")
    parser.add_argument("--warm-rounds", type=int, default=3,
                        help="most warm-up rounds to make every model resident in every worker (default 3)")
    parser.add_argument("--cost-loads", type=int, default=200, help="cold loads timed step by step (default 200)")
    parser.add_argument("--cost-rounds", type=int, default=5,
                        help="rounds of 100 in-process predictions per kind for their CPU cost (default 5)")
    parser.add_argument("--nudge", type=float, default=1e-4, help="std of the copies' output-layer nudge")
    parser.add_argument("--cache-mb", type=int, default=None, help="MODEL_CACHE_MB (default: the site's, 256)")
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--seed", type=int, default=5151)
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def site_env(args: argparse.Namespace) -> dict[str, str]:
    env = {"LOG_LEVEL": "INFO", "GUNICORN_CMD_ARGS": f"--config {PID_LOGS}"}
    if args.cache_mb is not None:
        env["MODEL_CACHE_MB"] = str(args.cache_mb)
    return env


# --- model loads, from the web workers' log ------------------------------------------------------------------

class LoadLog:
    """The personal-model loads the web workers logged: (pid, version, ms, KB), read on as the log grows."""

    def __init__(self, log: Path) -> None:
        self.log, self.offset, self.loads = log, 0, []
        self.personal: set[int] = set()

    def read(self) -> list[tuple[int, int, float, int]]:
        """Loads of personal versions logged since the last read (all of them are kept in ``loads``)."""
        with open(self.log, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1  # a line still being written waits for the next read
        self.offset += end
        found = []
        for match in LOADED.finditer(data[:end].decode(errors="replace")):
            found.append((int(match[1]), int(match[2]), float(match[3]), int(match[4])))
        self.loads += found
        return [load for load in found if load[1] in self.personal]

    def personal_loads(self) -> list[tuple[int, int, float, int]]:
        return [load for load in self.loads if load[1] in self.personal]

    def resident(self) -> dict[int, set[int]]:
        """Personal versions each worker pid has loaded (MODEL_CACHE_MB holds them all: none is dropped)."""
        found = defaultdict(set)
        for pid, version, _, _ in self.personal_loads():
            found[pid].add(version)
        return found


def load_figures(loads: list[tuple[int, int, float, int]]) -> dict:
    ms = np.array([load[2] for load in loads])
    per_pair = Counter((pid, version) for pid, version, _, _ in loads)
    return {"loads": len(loads), "per_worker": dict(Counter(pid for pid, _, _, _ in loads)),
            "reloads": sum(n - 1 for n in per_pair.values()), **summarise(ms, "load_"),
            "kb_each": sorted({load[3] for load in loads})}


# --- clients ---------------------------------------------------------------------------------------------------

Connection = http.client.HTTPConnection


def connection_owner(port: int, client_port: int, pids: list[int]) -> int | None:
    """Which of ``pids`` (gunicorn's workers) holds the server side of our connection from ``client_port``: the
    socket's inode from /proc/net/tcp, then the worker with that socket among its open files."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if (int(fields[1].rsplit(":", 1)[1], 16) == port and int(fields[2].rsplit(":", 1)[1], 16) == client_port
                and fields[9] != "0"):
            inode = fields[9]
            break
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in pids:
        try:
            if any(os.readlink(fd) == target for fd in Path(f"/proc/{pid}/fd").iterdir()):
                return pid
        except OSError:
            continue
    return None


class Clients:
    """Client threads posting the canvas PNG to /api/predict, each on a keep-alive connection to a known web
    worker, each request as one kind (KINDS) with the cookie ``pick`` chose, every answer checked against the
    version expected.

    gunicorn's workers share one listening socket, and a keep-alive connection stays with the worker that
    accepted it; which one that is, is up to the kernel. An uneven split (say 13 clients on one worker, 3 on the
    other) makes the answer times bimodal, and p50 then jumps between the modes with small changes in request
    cost. So the connections are opened worker by worker, an equal number on each (a connection that lands on a
    worker that has its share is closed and opened again)."""

    def __init__(self, port: int, png: bytes, shared_id: int) -> None:
        self.port, self.body, self.shared_id = port, multipart_body(png), shared_id

    def connect(self, count: int, pids: list[int], tries: int = 40) -> list[tuple[int | None, Connection]]:
        """``count`` keep-alive connections, as evenly as possible over ``pids``: (worker pid, connection)."""
        quota, held, opened = -(-count // len(pids)), Counter(), []
        for _ in range(count * tries):
            if len(opened) == count:
                break
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            conn.request("GET", "/api/health")
            conn.getresponse().read()
            owner = connection_owner(self.port, conn.sock.getsockname()[1], pids)
            if owner is None or held[owner] >= quota:
                conn.close()
                continue
            held[owner] += 1
            opened.append((owner, conn))
        while len(opened) < count:  # the kernel would not spread them: take what comes
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            opened.append((None, conn))
        return opened

    def run(self, connections: list[tuple[int | None, Connection]], pick) -> dict:
        """Until ``pick(worker pid)`` returns None, each connection's thread sends what it returns: (kind, session
        key or None, version expected, a tag). Per kind: ms of each answer and its tag, errors and wrong answers."""
        rows = [defaultdict(lambda: {"ms": [], "tags": [], "errors": 0, "wrong": 0}) for _ in connections]
        start = threading.Barrier(len(connections) + 1)

        def client(k: int) -> None:
            owner, conn = connections[k]
            start.wait()
            try:
                while (chosen := pick(owner)) is not None:
                    kind, key, version, tag = chosen
                    headers = {"Content-Type": MULTIPART_TYPE, **({"Cookie": f"sessionid={key}"} if key else {})}
                    row, began = rows[k][kind], time.perf_counter()
                    try:
                        conn.request("POST", "/api/predict", body=self.body, headers=headers)
                        response = conn.getresponse()
                        data, status = response.read(), response.status
                    except (OSError, http.client.HTTPException):
                        status, data = None, b""
                        conn.close()  # http.client opens a new connection for the next request
                    took = (time.perf_counter() - began) * 1000
                    if status != 200:
                        row["errors"] += 1
                        continue
                    row["ms"].append(took)
                    row["tags"].append(tag)
                    answer = json.loads(data)
                    if answer["personal"] != (kind == "personal") or answer["model_version"] != version:
                        row["wrong"] += 1
            finally:
                conn.close()

        threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(len(connections))]
        for thread in threads:
            thread.start()
        start.wait()
        for thread in threads:
            thread.join()
        return merged_rows(rows)

    def warm(self, missing: dict[int, list[str]], versions: dict[str, int], per_worker: int) -> dict:
        """Each session of ``missing[pid]`` once, on ``per_worker`` connections to that worker, one worker after
        the other: its cold load there, with the rest of the site idle."""
        found = []
        for pid, keys in missing.items():
            queue = iter(keys)  # next() on a list iterator is atomic under the GIL

            def pick(owner, pid=pid, queue=queue):
                key = next(queue, None) if owner == pid else None
                return None if key is None else ("personal", key, versions[key], 0)

            found.append(self.run(self.connect(per_worker, [pid]), pick))
        return merged_rows(found)

    def blocks(self, clients: int, pids: list[int], personal: list[str], versions: dict[str, int],
               plain: list[str], block_s: float, blocks: int) -> tuple[dict, float, dict]:
        """Blocks of ``block_s`` seconds, kinds in turn, ``blocks`` of each; the personal kind rotates over
        every session in ``personal``, the session kind over ``plain``. Returns the rows (each answer tagged
        with its block), the seconds and how many connections each worker held."""
        connections = self.connect(clients, pids)
        turns = {"personal": itertools.count(), "session": itertools.count()}
        order = list(KINDS)
        began = [0.0]

        def pick(owner):
            block = int((time.perf_counter() - began[0]) / block_s)
            if block >= len(order) * blocks:
                return None
            kind = order[block % len(order)]
            if kind == "personal":
                key = personal[next(turns["personal"]) % len(personal)]
                return kind, key, versions[key], block
            if kind == "session":
                return kind, plain[next(turns["session"]) % len(plain)], self.shared_id, block
            return kind, None, self.shared_id, block

        began[0] = time.perf_counter() + 0.05  # the threads start together just after
        rows = self.run(connections, pick)
        return rows, time.perf_counter() - began[0], dict(Counter(str(owner) for owner, _ in connections))


def merged_rows(rows: list[dict]) -> dict:
    """Per-kind rows (ms, errors, wrong) of several clients or runs, as one."""
    merged = defaultdict(lambda: {"ms": [], "tags": [], "errors": 0, "wrong": 0})
    for per_client in rows:
        for kind, row in per_client.items():
            for field in ("errors", "wrong"):
                merged[kind][field] += row[field]
            for field in ("ms", "tags"):
                merged[kind][field] += row[field]
    return dict(merged)


def cycle_ratios(rows: dict, kinds: int) -> list[float]:
    """Per cycle of blocks (one block of each kind, back to back): personal p50 / shared p50 within it. Their
    spread says how much of the whole run's ratio is the machine's noise."""
    def p50s(row: dict) -> dict[int, float]:
        by_cycle = defaultdict(list)
        for ms, block in zip(row["ms"], row["tags"]):
            by_cycle[block // kinds].append(ms)
        return {cycle: float(np.median(values)) for cycle, values in by_cycle.items()}

    empty = {"ms": [], "tags": []}
    personal, shared = p50s(rows.get("personal", empty)), p50s(rows.get("shared", empty))
    return [personal[c] / shared[c] for c in sorted(personal) if c in shared]


def row_figures(row: dict, seconds: float | None = None) -> dict:
    ms = np.array(row["ms"])
    figures = {"requests": int(ms.size), "errors": row["errors"], "wrong_model": row["wrong"],
               **summarise(ms, "client_")}
    if seconds:
        figures["throughput_rps"] = ms.size / seconds
    return figures


# --- the site: trained models, copies ------------------------------------------------------------------------

def train_sessions(site, count: int, probe: bytes, seed: int) -> list[tuple[PersonalSession, int]]:
    """``count`` sessions, each with 20 drawings of its own and a personal model trained from them."""
    trained = []
    for k in range(count):
        session = PersonalSession(site.port).open()
        session.save(list(iter_pen_digits(TRAIN_DRAWINGS // len(FAMILY), seed + k, FAMILY)))
        followed = session.train(probe=probe)
        answer = followed.serving["answer"]
        if followed.run["status"] != "succeeded" or not answer["personal"]:
            raise ApiError(f"training run {followed.job} ended {followed.run['status']}: "
                           f"{followed.run.get('error') or (followed.run.get('metrics') or {}).get('gate')}")
        print(f"  session {k + 1}: run {followed.job} {followed.run['status']}, personal model "
              f"v{followed.run['model_version']} ({time.time() - followed.posted:.1f} s)", flush=True)
        trained.append((session, followed.run["model_version"]))
        session.close()
    return trained


class Population:
    """The site's sessions with personal models (key -> version), their stored sizes and weight fingerprints."""

    def __init__(self, site, trained: list[tuple[PersonalSession, int]], args: argparse.Namespace) -> None:
        self.site, self.args = site, args
        self.sources = [version for _, version in trained]
        self.versions = {session.key: version for session, version in trained}
        self.sizes: dict[int, int] = {}
        self.marks: dict[int, str] = {}
        self.plain: list[str] = []
        self.retries = 0
        found = json.loads(manage_shell({**site.env, "BENCH_VERSIONS": json.dumps(self.sources)}, SIZES)
                           .splitlines()[-1])
        for pk, (architecture, size) in found.items():
            if architecture != "PersonalAdapter-v1":
                raise RuntimeError(f"trained v{pk} is {architecture}, not a personal adapter")
            self.sizes[int(pk)] = size

    def grow(self, total: int) -> float:
        """Add copies until ``total`` sessions have personal models (and make the plain sessions, the first
        time); the seconds it took."""
        began = time.perf_counter()
        plan = {"copies": max(0, total - len(self.versions)), "start": len(self.versions), "sources": self.sources,
                "seed": self.args.seed + len(self.versions), "nudge": self.args.nudge,
                "seen": list(self.marks.values()), "plain": 0 if self.plain else self.args.plain}
        (self.site.tmp / "plan.json").write_text(json.dumps(plan))
        made = json.loads(manage_shell({**self.site.env, "BENCH_PLAN": str(self.site.tmp / "plan.json")}, COPIES)
                          .splitlines()[-1])
        for key, version, size, mark, tries in made["made"]:
            self.versions[key], self.sizes[version], self.marks[version] = version, size, mark
            self.retries += tries - 1
        for pk, mark in made["sources"].items():
            self.marks[int(pk)] = mark
        self.plain = self.plain or made["plain"]
        return time.perf_counter() - began

    @property
    def distinct_weights(self) -> int:
        return len(set(self.marks.values()))


# --- measuring ------------------------------------------------------------------------------------------------

def make_resident(clients: Clients, population: Population, log: LoadLog, pids: list[int],
                  args: argparse.Namespace) -> dict:
    """Each session's weights loaded in every worker: requests for the sessions missing in a worker, on
    connections to that worker (``--warm-clients`` each), in rounds until none is missing or ``--warm-rounds``
    pass."""
    ms, requests, problems, done = [], 0, Counter(), 0
    while True:
        time.sleep(0.3)  # the last answers' log lines
        log.read()
        resident = log.resident()
        missing = {pid: [key for key, version in population.versions.items() if version not in resident[pid]]
                   for pid in pids}
        missing = {pid: keys for pid, keys in missing.items() if keys}
        if not missing or done == args.warm_rounds:
            break
        done += 1
        for row in clients.warm(missing, population.versions, args.warm_clients).values():
            ms += row["ms"]
            requests += len(row["ms"]) + row["errors"]
            problems["errors"] += row["errors"]
            problems["wrong model"] += row["wrong"]
    return {"rounds": done, "requests": requests, "missing": sum(len(keys) for keys in missing.values()),
            **summarise(np.array(ms), "client_"), "problems": {k: v for k, v in problems.items() if v}}


def measure_count(site, clients: Clients, population: Population, log: LoadLog, memory: MemorySampler,
                  total: int, args: argparse.Namespace) -> dict:
    memory.phase = f"{total} models: storing"
    copy_s = population.grow(total)
    log.personal = set(population.sizes)
    print(f"  {total} personal models stored ({copy_s:.1f} s)", flush=True)
    pids = children(site.gunicorn.pid)
    memory.phase = f"{total} models: warm-up"
    before = len(log.personal_loads())
    warm = make_resident(clients, population, log, pids, args)
    warm_loads = log.personal_loads()[before:]
    print(f"  warm-up: {warm['requests']} requests in {warm['rounds']} rounds, {len(warm_loads)} loads, "
          f"{warm['missing']} sessions not resident in every worker", flush=True)
    memory.phase = f"{total} models: load"
    rows, seconds, split = clients.blocks(args.clients, pids, list(population.versions), population.versions,
                                          population.plain, args.block, args.blocks)
    time.sleep(0.3)
    log.read()
    measured_loads = log.personal_loads()[before + len(warm_loads):]
    kinds = {kind: row_figures(rows.get(kind, {"ms": [], "errors": 0, "wrong": 0}), seconds / len(KINDS))
             for kind in KINDS}
    cycles = cycle_ratios(rows, len(KINDS))
    resident = log.resident()
    workers = {pid: {"resident_models": len(resident[pid]),
                     "resident_kb": sum(kb for p, _, _, kb in log.personal_loads() if p == pid),
                     **{key: round(value, 1) for key, value in (process_memory(pid) or {}).items()}}
               for pid in pids}
    personal, shared = kinds["personal"]["client_p50_ms"], kinds["shared"]["client_p50_ms"]
    found = {"models": total, "sessions": len(population.versions), "store_seconds": copy_s, "warm_up": warm,
             "warm_up_loads": load_figures(warm_loads), "loads_while_measuring": load_figures(measured_loads),
             "rows": kinds, "seconds": seconds, "p50_ratio": personal / shared if personal and shared else None,
             "p99_ratio": (kinds["personal"]["client_p99_ms"] / kinds["shared"]["client_p99_ms"]
                           if personal and shared else None),
             "cycle_p50_ratios": cycles, "cycle_p50_ratio_quartiles": (np.percentile(cycles, [25, 50, 75]).tolist()
                                                                        if cycles else None),
             "workers": workers, "connections_per_worker": split, "loads_so_far": load_figures(log.personal_loads())}
    print(f"  {total} models: personal p50 {fmt(personal, '.1f')} ms, shared p50 {fmt(shared, '.1f')} ms "
          f"(x{fmt(found['p50_ratio'], '.2f')}); worker VmHWM "
          + ", ".join(f"{w.get('VmHWM', 0):.0f}" for w in workers.values()) + " MiB", flush=True)
    return found


def measure(args: argparse.Namespace) -> dict:
    png, _ = canvas_png()
    with running_site(args.checkpoint, 2, 4, extra_env=site_env(args)) as site:
        memory = MemorySampler(site.gunicorn.pid)
        memory.start()
        worker, warm_up_s = start_ready_worker(site)
        memory.watch(worker.pid, "training worker")
        try:
            memory.phase = "training"
            trained = train_sessions(site, args.trained, png, args.seed)
        finally:
            stop_process(worker, grace=10)
        population = Population(site, trained, args)
        shared_id = PersonalSession(site.port).predict(png)[0]["model_version"]
        clients = Clients(site.port, png, shared_id)
        log = LoadLog(site.tmp / "gunicorn.log")
        log.personal = set(population.sizes)
        stages = [measure_count(site, clients, population, log, memory, total, args) for total in args.models]
        log.read()
        memory.phase = "costs"
        costs = in_process_costs(site, population, shared_id, png, args)
        mapped = {pid: mapped_libraries(pid) for pid in children(site.gunicorn.pid)}
        logs = scan_logs(site.tmp)
        processes = memory.finish()
        sizes = np.array(list(population.sizes.values()))
    return {"training_worker_warm_up_s": warm_up_s, "trained_versions": population.sources, "shared_version": shared_id,
            "stages": stages, "loads": load_figures(log.personal_loads()), "costs": costs,
            "stored": {"models": len(population.sizes), "distinct_weights": population.distinct_weights,
                       "nudge_redraws": population.retries, "bytes_max": int(sizes.max()),
                       "bytes_median": float(np.median(sizes)), "bytes_min": int(sizes.min())},
            "workers": sorted({pid for pid, _, _, _ in log.personal_loads()}),
            "processes": processes, "web_worker_libraries": mapped, "logs": logs}


def in_process_costs(site, population: Population, shared_id: int, png: bytes, args: argparse.Namespace) -> dict:
    """COSTS in a Django shell on the site's database: ``--cost-loads`` cold loads of personal models, each step
    timed (median and max ms), and the CPU ms a prediction takes in-process (Django's test client, so no HTTP
    and no other request at the same time), for each kind: the median of ``--cost-rounds`` rounds."""
    (site.tmp / "canvas.png").write_bytes(png)
    copies = [version for key, version in population.versions.items() if version not in population.sources]
    plan = {"parent": shared_id, "versions": copies[:args.cost_loads], "all": copies, "parts": LOAD_PARTS,
            "png": str(site.tmp / "canvas.png"),
            "keys": {"shared": None, "session": population.plain[0], "personal": next(iter(population.versions))},
            "requests": 100, "rounds": args.cost_rounds}
    (site.tmp / "plan.json").write_text(json.dumps(plan))
    found = json.loads(manage_shell({**site.env, "BENCH_PLAN": str(site.tmp / "plan.json")}, COSTS).splitlines()[-1])
    return {"loads": len(plan["versions"]),
            "load_ms": {name: {"median": float(np.median(ms)), "max": float(np.max(ms))}
                        for name, ms in found["parts"].items()},
            "cpu_ms_per_prediction": {kind: float(np.median(ms)) for kind, ms in found["cpu_ms"].items()},
            "garbage_collector": found["gc"],
            "cpu_ms_rounds": found["cpu_ms"]}


def mapped_libraries(pid: int) -> dict:
    """What of a web worker's resident memory is mapped files: all of them, those only a CUDA build of PyTorch
    brings, and the largest few (MiB)."""
    files = resident_by_file(pid)
    return {"files_mib": sum(files.values()),
            "gpu_libraries_mib": sum(mib for path, mib in files.items() if GPU_LIBRARIES.search(path)),
            "torchvision_loaded": any("torchvision" in path for path in files),
            "largest": {path.rsplit("site-packages/", 1)[-1]: round(mib, 1) for path, mib in list(files.items())[:6]}}


# --- the report -----------------------------------------------------------------------------------------------

def report(found: dict, args: argparse.Namespace) -> dict:
    stages, stored, loads = found["stages"], found["stored"], found["loads"]
    print(f"\nPERSONAL MODELS STORED: {stored['models']} ({args.trained} trained through the API, the rest nudged "
          f"copies stored through the Django shell), {stored['distinct_weights']} distinct weight sets; file "
          f"{stored['bytes_min'] / 1000:.1f}-{stored['bytes_max'] / 1000:.1f} KB")
    print(f"\nPREDICTION LATENCY, {args.clients} clients (keep-alive), blocks of {args.block:.0f} s, {args.blocks} of "
          "each kind per count, client-side ms")
    print(f"{'models':>6} {'kind':<42} {'requests':>8} {'err':>4} {'wrong':>5} {'rps':>6} {'p50':>7} {'p90':>7} "
          f"{'p99':>7}")
    for stage in stages:
        for kind, name in KINDS.items():
            r = stage["rows"][kind]
            print(f"{stage['models']:>6} {name:<42} {r['requests']:>8} {r['errors']:>4} {r['wrong_model']:>5} "
                  f"{fmt(r.get('throughput_rps'), '6.0f')} {fmt(r['client_p50_ms'], '7.1f')} "
                  f"{fmt(r['client_p90_ms'], '7.1f')} {fmt(r['client_p99_ms'], '7.1f')}")
    print(f"\n{'models':>6} {'personal p50':>12} {'p99':>6} {'shared p50':>10} {'p99':>6} {'ratio':>6} "
          f"{'per cycle [IQR]':>17} {'worker MiB (RSS/HWM)':>22} {'resident':>9} {'loads':>6} {'reloads':>7} "
          f"{'load ms p50/max':>15}")
    for stage in stages:
        p, s = stage["rows"]["personal"], stage["rows"]["shared"]
        workers = stage["workers"].values()
        memory = " ".join(f"{w.get('VmRSS', 0):.0f}/{w.get('VmHWM', 0):.0f}" for w in workers)
        resident = "/".join(str(w["resident_models"]) for w in workers)
        warm = stage["warm_up_loads"]
        q1, median, q3 = stage["cycle_p50_ratio_quartiles"] or (None, None, None)
        cycles = f"{fmt(median, '.2f')} [{fmt(q1, '.2f')}-{fmt(q3, '.2f')}]"
        print(f"{stage['models']:>6} {fmt(p['client_p50_ms'], '12.1f')} {fmt(p['client_p99_ms'], '6.1f')} "
              f"{fmt(s['client_p50_ms'], '10.1f')} {fmt(s['client_p99_ms'], '6.1f')} "
              f"{fmt(stage['p50_ratio'], '6.2f')} {cycles:>17} {memory:>22} {resident:>9} "
              f"{stage['loads_so_far']['loads']:>6} {stage['loads_so_far']['reloads']:>7} "
              f"{fmt(warm['load_p50_ms'], '.1f'):>7}/{fmt(warm['load_max_ms'], '.1f')}")
    print(f"\nMEMORY (MiB)\n{'process':<18} {'pid':>7} {'max RSS':>8} {'VmHWM':>8} {'max anon':>8} {'max file':>8}")
    for p in found["processes"]:
        print(f"{p['role']:<18} {p['pid']:>7} {p['max_rss_mib']:>8.1f} {p['hwm_mib']:>8.1f} {p['max_anon_mib']:>8.1f} "
              f"{p['max_file_mib']:>8.1f}")
    for pid, libraries in found["web_worker_libraries"].items():
        print(f"web worker {pid}: {libraries['files_mib']:.0f} MiB of mapped files, "
              f"{libraries['gpu_libraries_mib']:.0f} of them CUDA and Triton libraries; largest: "
              + ", ".join(f"{path.rsplit('/', 1)[-1]} {mib:.0f}" for path, mib in libraries["largest"].items()))

    costs = found["costs"]
    print(f"\nWHERE A COLD LOAD'S TIME GOES ({costs['loads']} loads in a Django shell, one thread, ms median/max): "
          + ", ".join(f"{name} {ms['median']:.2f}/{ms['max']:.1f}" for name, ms in costs["load_ms"].items()))
    cpu = costs["cpu_ms_per_prediction"]
    print("CPU PER PREDICTION in-process (Django test client, one thread, median of rounds of 100): "
          + ", ".join(f"{KINDS[kind]} {ms:.2f} ms" for kind, ms in cpu.items())
          + f"; personal / shared {cpu['personal'] / cpu['shared']:.2f}")
    collector = costs["garbage_collector"]
    print(f"GARBAGE COLLECTOR with {collector['models_resident']} personal models resident (the same shell): "
          f"{collector['objects_per_model']:.0f} tracked objects per model, {collector['objects_tracked']} in all; "
          "a full collection takes " + ", ".join(f"{ms:.0f}" for ms in collector["full_collection_ms"]) + " ms")

    last = stages[-1]
    workers = len(last["workers"])
    web = [p for p in found["processes"] if p["role"] == "web worker"]
    peak = max((max(p["max_rss_mib"], p["hwm_mib"]) for p in web), default=None)
    all_resident = all(w["resident_models"] == last["sessions"] for w in last["workers"].values())
    answers_right = not any(r["errors"] or r["wrong_model"] for s in stages for r in s["rows"].values())
    measured_loads = sum(s["loads_while_measuring"]["loads"] for s in stages)
    checks = {
        "file_bytes_max": stored["bytes_max"],
        "file_pass": stored["bytes_max"] <= TARGET_FILE_BYTES and stored["distinct_weights"] == stored["models"],
        "p50_ratio": {s["models"]: s["p50_ratio"] for s in stages},
        "p99_ratio": {s["models"]: s["p99_ratio"] for s in stages},
        "latency_pass": answers_right and all(s["p50_ratio"] is not None and s["p50_ratio"] <= TARGET_P50_RATIO
                                              for s in stages),
        "answers_right": answers_right,
        "personal_loads": loads["loads"], "load_limit": last["sessions"] * workers, "reloads": loads["reloads"],
        "loads_while_measuring": measured_loads,
        "loads_pass": loads["reloads"] == 0 and loads["loads"] <= last["sessions"] * workers,
        "load_p50_ms": loads["load_p50_ms"], "load_max_ms": loads["load_max_ms"],
        "load_time_pass": (loads["load_p50_ms"] is not None and loads["load_p50_ms"] <= TARGET_LOAD_MS
                           and loads["load_max_ms"] <= TARGET_LOAD_MS),
        "web_worker_peak_mib": peak, "all_resident": all_resident,
        "memory_pass": peak is not None and peak < WEB_WORKER_LIMIT_MIB and all_resident,
    }
    checks["pass"] = all(checks[k] for k in ("file_pass", "latency_pass", "loads_pass", "load_time_pass",
                                             "memory_pass"))
    ratios = ", ".join(f"{m}: x{fmt(r, '.2f')}" for m, r in checks["p50_ratio"].items())
    print(f"\n{pass_fail(checks['file_pass'])}: stored personal model at most {stored['bytes_max'] / 1000:.1f} KB "
          f"(target <= {TARGET_FILE_BYTES / 1000:.0f} KB), {stored['distinct_weights']} distinct of {stored['models']}")
    print(f"{pass_fail(checks['latency_pass'])}: personal p50 / shared p50 {ratios} (target <= {TARGET_P50_RATIO}; "
          f"every answer from the expected model: {answers_right})")
    print(f"{pass_fail(checks['loads_pass'])}: {loads['loads']} personal model loads for {last['sessions']} sessions "
          f"x {workers} workers, {loads['reloads']} reloads, {measured_loads} while measuring")
    print(f"{pass_fail(checks['load_time_pass'])}: cold load p50 {fmt(loads['load_p50_ms'], '.1f')} ms, p90 "
          f"{fmt(loads['load_p90_ms'], '.1f')}, max {fmt(loads['load_max_ms'], '.1f')} ms (target <= "
          f"{TARGET_LOAD_MS:.0f} ms, p50 and max)")
    print(f"{pass_fail(checks['memory_pass'])}: web worker peak resident {fmt(peak, '.1f')} MiB with "
          f"{last['sessions']} personal models resident in every worker: {all_resident} (limit 1 GB = "
          f"{WEB_WORKER_LIMIT_MIB:.1f} MiB)")
    print(f"RESULT: {pass_fail(checks['pass'])}")
    return checks


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def finish(found: dict) -> dict:
        checks = report(found, args)
        env = {**SITE_SETTINGS, **site_env(args)}
        env["GUNICORN_CMD_ARGS"] = "--config bench/gunicorn_pid_logs.py"
        return {"settings": {"site_env": env, "MODEL_CACHE_MB": args.cache_mb or "site default (256)",
                             "gunicorn": "2 workers x 4 threads (gthread)", "trained": args.trained,
                             "models": args.models, "clients": args.clients, "block_s": args.block,
                             "blocks_per_kind": args.blocks, "plain_sessions": args.plain,
                             "warm_rounds": args.warm_rounds, "warm_clients": args.warm_clients,
                             "cost_loads": args.cost_loads, "cost_rounds": args.cost_rounds,
                             "nudge": args.nudge, "seed": args.seed,
                             "copies": "personal models beyond the trained ones: copies of their adapters, output "
                                       "layer nudged, stored through the Django shell with new stored sessions"},
                **found, "memory_limit_mib": WEB_WORKER_LIMIT_MIB,
                "targets": {"p50_ratio": TARGET_P50_RATIO, "load_ms": TARGET_LOAD_MS, "file_bytes": TARGET_FILE_BYTES},
                "checks": checks}

    return run_benchmark("personal_serving", argv, args, measure, finish)


if __name__ == "__main__":
    sys.exit(main())
