"""A gunicorn config for benchmarks that count model loads per web worker: the site's own gunicorn.conf.py (its
settings and hooks, unchanged), plus each worker's pid on recognizer.inference's log lines ("[pid 1234] Loaded
model v7 ..."). Django's log format has no pid, and every worker writes to the same log.

A site picks it up through the environment, so the harness's gunicorn command stays as it is:
``GUNICORN_CMD_ARGS="--config <this file>"`` (gunicorn reads it instead of the default ./gunicorn.conf.py, which
this file runs itself; the harness's flags still override both).
"""

import logging
import os
from pathlib import Path

SITE_CONFIG = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"
TAGGED_LOGGER = "recognizer.inference"

exec(compile(SITE_CONFIG.read_text(), str(SITE_CONFIG), "exec"))  # noqa: S102 - the site's settings and hooks


def post_fork(server, worker) -> None:
    """In each new worker, before Django configures logging: a record factory (dictConfig keeps it) that puts
    this worker's pid in front of recognizer.inference's messages."""
    make_record, pid = logging.getLogRecordFactory(), os.getpid()

    def tagged(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        if record.name == TAGGED_LOGGER:
            record.msg = f"[pid {pid}] {record.msg}"
        return record

    logging.setLogRecordFactory(tagged)

