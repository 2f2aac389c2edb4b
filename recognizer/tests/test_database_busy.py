"""A database locked by another process: requests wait, then answer 503; an acknowledged sample is never lost."""

import contextlib
import sqlite3
from collections.abc import Iterator

import pytest
from django.db import connection
from django.test import Client

from recognizer.models import Sample
from recognizer.tests.drawings import as_upload, canvas_png

pytestmark = pytest.mark.django_db(transaction=True)  # other connections must see committed rows


def stored_files(root) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*.png")}


@contextlib.contextmanager
def short_lock_timeout() -> Iterator[None]:
    """Wait a fraction of a second for locks (instead of DATABASE_LOCK_TIMEOUT's 20 s) on a new connection."""
    options = connection.settings_dict.setdefault("OPTIONS", {})
    saved = dict(options)
    if connection.vendor == "sqlite":
        options["timeout"] = 0.3
    else:
        options["options"] = "-c lock_timeout=300"
    connection.close()
    try:
        yield
    finally:
        options.clear()
        options.update(saved)
        connection.close()


@contextlib.contextmanager
def write_lock_held_by_another_process() -> Iterator[None]:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        other = sqlite3.connect(db["NAME"], isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # the one write lock a SQLite database has
    else:
        import psycopg

        other = psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"],
                                dbname=db["NAME"])
        other.execute("LOCK TABLE recognizer_sample, django_session IN ACCESS EXCLUSIVE MODE")
    try:
        yield
    finally:
        other.rollback()
        other.close()


def save(client: Client, label: int = 7):
    return client.post("/api/samples", {"file": as_upload(canvas_png()), "label": str(label)})


def test_a_save_that_cannot_get_the_lock_answers_503_and_leaves_nothing_behind(active_model_version, settings):
    client = Client()
    assert save(client).status_code == 201  # this browser already has a session and one sample
    files_before = stored_files(settings.MEDIA_ROOT)
    with short_lock_timeout(), write_lock_held_by_another_process():
        refused = save(client)
    assert refused.status_code == 503 and refused["Retry-After"] == "5"
    assert "nothing was saved" in refused.json()["error"]
    assert Sample.objects.count() == 1 and stored_files(settings.MEDIA_ROOT) == files_before

    again = save(client)  # the lock is gone: the same request now works
    assert again.status_code == 201 and Sample.objects.count() == 2


def test_a_first_save_whose_session_cannot_be_created_answers_503(active_model_version, settings):
    with short_lock_timeout(), write_lock_held_by_another_process():
        refused = save(Client())
    assert refused.status_code == 503 and not Sample.objects.exists()
    assert stored_files(settings.MEDIA_ROOT) == set()


def test_concurrent_saves_from_twenty_sessions_are_all_kept_with_their_files(active_model_version, run_at_once):
    results: list[tuple[int, dict]] = []

    def session(k: int) -> None:
        client = Client()
        for _ in range(3):
            response = save(client, label=k % 10)
            results.append((response.status_code, response.json()))

    run_at_once(session, [(k,) for k in range(20)], timeout=120)
    assert sorted(status for status, _ in results) == [201] * 60
    for _, body in results:
        sample = Sample.objects.get(pk=body["id"])
        assert sample.drawing.storage.exists(sample.drawing.name) and sample.digit.storage.exists(sample.digit.name)
