"""Watching the servers from outside: their request times in the access log, their logs' notable lines, and
/proc (a process's children, CPU time and memory)."""

import os
import re
from collections import Counter
from pathlib import Path

import numpy as np

from bench.harness.results import summarise

# What scan_log counts in gunicorn's log (with Django's) and the training worker's, and the lines it keeps.
LOG_PATTERNS = {"database is locked": "database is locked", "traceback": "Traceback", "error": r"\bERROR\b",
                "critical": "CRITICAL", "worker timeout": "WORKER TIMEOUT", "worker boot": "Booting worker",
                "internal server error": "Internal Server Error", "database busy (503)": "with 503: database",
                "refused (4xx warning)": r"Refused \w+ "}
NOTABLE_LINE = r"locked|Traceback|ERROR|CRITICAL|TIMEOUT|Error|rror:|503"


# --- logs --------------------------------------------------------------------------------------------------

def server_times(access_log: Path, offset: int, path: str | None = None) -> tuple[dict, int]:
    """Server-side request times (ms) of the access-log lines written since ``offset`` (only ``path``'s, when
    given); and the new offset."""
    with open(access_log, "rb") as handle:
        handle.seek(offset)
        lines = handle.read().decode(errors="replace").splitlines()
        end = handle.tell()
    rows = [line.split() for line in lines]
    ms = np.array([int(parts[1]) / 1000 for parts in rows
                   if len(parts) >= 2 and (path is None or (len(parts) >= 3 and parts[2].rstrip("/") == path))])
    return summarise(ms, "server_"), end


def scan_log(path: Path) -> dict:
    """A log's line count, the LOG_PATTERNS found in it (counted), its first 30 notable lines and its last 15."""
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    counts = {key: sum(1 for line in lines if re.search(pattern, line)) for key, pattern in LOG_PATTERNS.items()}
    notable = [line for line in lines if re.search(NOTABLE_LINE, line)]
    return {"lines": len(lines), "counts": {k: v for k, v in counts.items() if v}, "notable": notable[:30],
            "tail": lines[-15:]}


def scan_logs(tmp: Path) -> dict:
    """scan_log of gunicorn's log (with Django's) and the training worker's."""
    return {name: scan_log(tmp / name) for name in ("gunicorn.log", "training_worker.log")}


# --- processes ---------------------------------------------------------------------------------------------

def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (gunicorn's master: its workers)."""
    try:
        found = []
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(x) for x in (task / "children").read_text().split()]
        return sorted(set(found))
    except OSError:
        return []


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far, all their threads included; 0 for one gone."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / os.sysconf("SC_CLK_TCK")


def process_memory(pid: int) -> dict | None:
    """VmRSS, VmHWM (peak resident), RssAnon (private heap) and RssFile (mapped files such as libtorch, shared
    with other processes) of ``pid`` in MiB from /proc/<pid>/status; None once it has gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    try:
        return {key: int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM", "RssAnon", "RssFile")}
    except (KeyError, ValueError, IndexError):
        return None  # a zombie has no memory lines


def resident_by_file(pid: int) -> dict[str, float]:
    """Resident MiB of each file ``pid`` maps (libraries), from /proc/<pid>/smaps, largest first; {} once gone."""
    try:
        text = Path(f"/proc/{pid}/smaps").read_text()
    except OSError:
        return {}
    found: Counter = Counter()
    mapping = None
    for line in text.splitlines():
        head = re.match(r"[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(/\S*)?", line)
        if head:
            mapping = head.group(1)
        elif mapping and line.startswith("Rss:"):
            found[mapping] += int(line.split()[1]) / 1024
    return dict(found.most_common())
