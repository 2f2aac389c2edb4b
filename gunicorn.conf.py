"""gunicorn settings for production: `gunicorn mnistsite.wsgi:application` run from the repository root reads
this file (bin/run uses it too). Environment variables override the defaults: HOST, PORT, WEB_WORKERS,
WEB_THREADS.

No --preload: every worker imports Django and PyTorch and loads the active model itself, once, just after it
starts (post_worker_init below). Forking a master that already holds torch would share little memory
(CPython's reference counts dirty the pages anyway), torch's thread pools do not survive a fork, and workers
replaced after a crash or a HUP would not pick up new code.
"""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
# A prediction is ~3-5 ms of CPU: one worker per core, and a few threads each so slow uploads and database
# waits do not hold up other requests.
workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
worker_class = "gthread"
timeout = 60          # a worker silent this long is killed and replaced
graceful_timeout = 30
keepalive = 5
accesslog = "-"
preload_app = False
# gunicorn 27's runtime control socket sits at one fixed path per user, so two sites (or a test beside the
# real one) would collide there; nothing here uses gunicornc.
control_socket_disable = True


def post_worker_init(worker) -> None:
    """Load the active model before the first request, so the first person does not wait for it and a broken
    model is reported (and the fallback chosen) at start-up, in this worker's log."""
    from recognizer.inference import warm_up

    warm_up()


def worker_exit(server, worker) -> None:
    """A stopping worker has answered its last request: leave at once. Unloading PyTorch's libraries at interpreter
    exit takes seconds on a busy machine, which held up every Ctrl-C and deploy; nothing is left to write."""
    import logging
    import sys

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
