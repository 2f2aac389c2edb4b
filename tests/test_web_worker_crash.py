"""Kill a web worker under load: gunicorn replaces it, and clients lose at most the requests it had in flight."""

from pathlib import Path

import pytest

from bench.fault_drills import phase, web_worker_drill
from bench.harness.client import predict_multipart
from bench.harness.monitor import children
from bench.harness.processes import free_port, start_gunicorn, stop_process, wait_until_healthy
from recognizer.tests.drawings import canvas_png
from tests.test_deploy import manage, production_env

pytestmark = pytest.mark.slow
CLIENTS = 6
KILL_NOTICE = "was sent SIGKILL"  # gunicorn's master, at ERROR level: the one error line we cause on purpose


@pytest.fixture
def site(tmp_path):
    """gunicorn (2 gthread workers x 4 threads) on a migrated throwaway site; its logs in tmp_path."""
    env = {**production_env(tmp_path), "RATE_LIMIT_ENABLED": "false"}  # every client here is 127.0.0.1
    migrated = manage("migrate", "--noinput", env=env)  # registers the shipped base model as the active version
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    process = start_gunicorn(env, tmp_path, port, workers=2, threads=4)  # its own session; stopped by PID
    try:
        wait_until_healthy(process, port, tmp_path, timeout=60)
        yield process, port
    finally:
        stop_process(process)


def log_tail(tmp_path: Path) -> str:
    return (tmp_path / "gunicorn.log").read_text(errors="replace")[-3000:]


def test_a_killed_worker_is_replaced_and_clients_lose_at_most_their_in_flight_requests(site, tmp_path):
    process, port = site
    kill = web_worker_drill(port, process.pid, predict_multipart(canvas_png()), expected_digit=7, clients=CLIENTS,
                            before=2.0, after=5.0, cap=45.0)
    answers, failures = kill.answers, [a for a in kill.answers if not a.ok]

    # (a) The master forked a replacement, and the killed worker is gone.
    assert kill.replaced is not None and kill.replaced - kill.killed < 30, log_tail(tmp_path)
    workers = children(process.pid)
    assert len(workers) == 2 and kill.victim not in workers and kill.replacement in workers

    # (d) No 5xx at any time; (e) every 200 carried valid JSON with the digit drawn.
    assert not [a.status for a in answers if a.status is not None and a.status >= 500]
    assert not [a.problem for a in answers if a.status == 200 and a.problem]

    # (b) Each client holds one keep-alive connection at a time, and a connection is served only by the worker
    # that accepted it. The SIGKILL closes the connections the killed worker held, so a client loses at most
    # one request: the one in flight on it, or, if its answer was already on its way, the next one it sends on
    # that dead connection. It then reconnects, and the listening socket is only ever accepted from by live
    # workers. Hence at most one failure per client, so at most CLIENTS, all on the killed worker's connections.
    assert not [a for a in failures if phase(kill, a) == "before kill"]
    per_client = {k: [a for a in answers if a.connection.client == k and a.ended >= kill.killed]
                  for k in range(CLIENTS)}
    for k, since_kill in per_client.items():
        lost = [a for a in since_kill if not a.ok]
        assert len(lost) <= 1 and all(a in since_kill[:2] for a in lost), (k, [a.problem for a in lost])
    assert len(failures) <= CLIENTS
    assert all(a.status is None for a in failures)  # connection errors, never an HTTP error answer
    # None: a connection whose first request was lost, so no worker was ever seen answering on it.
    assert all(a.connection.owner in (kill.victim, None) and a.connection.opened < kill.killed for a in failures)
    # Once the master has forked the replacement, everything succeeds: the only failure left possible is a
    # client's first request on a connection it opened before the kill, if that client is only now getting to it.
    after = [a for a in answers if phase(kill, a) == "after replacement"]
    assert after and all(a.ok for a in after if a.connection.opened >= kill.killed)

    # (c) Both the surviving worker and the replacement kept answering after the kill.
    served = [a.connection.owner for a in answers if a.ok and a.started >= kill.killed]
    survivor = next(pid for pid in kill.workers if pid != kill.victim)
    assert served.count(survivor) >= 20 and served.count(kill.replacement) >= 20, (survivor, kill.replacement)

    log = (tmp_path / "gunicorn.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    assert [line for line in log.splitlines() if "ERROR" in line and KILL_NOTICE not in line] == [], log[-3000:]
