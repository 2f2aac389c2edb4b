"""The data lifecycle: what the site stops keeping of ended sessions, and a cleanup that never deletes a file being
saved. Real rows, real files in the test MEDIA_ROOT."""

import io
import os
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.core.files.storage import default_storage
from django.utils import timezone

from recognizer.models import Sample
from recognizer.retention import ended_sessions_samples_clean, stored_data_clean
from recognizer.services import media_orphans_remove

LIVE, EXPIRED, DELETED = "l" * 32, "x" * 32, "d" * 32


@pytest.fixture
def sessions(db):
    Session.objects.create(session_key=LIVE, session_data="", expire_date=timezone.now() + timedelta(days=1))
    Session.objects.create(session_key=EXPIRED, session_data="", expire_date=timezone.now() - timedelta(days=1))
    # DELETED has no row at all: its visitor deleted their data, or clearsessions ran


def sample(make_sample, session_key: str, status: str = "new", days_old: int = 31) -> Sample:
    made = make_sample(session_key=session_key)
    Sample.objects.filter(pk=made.pk).update(status=status, created=timezone.now() - timedelta(days=days_old))
    made.refresh_from_db()
    return made


def files_of(made: Sample) -> list[bool]:
    return [default_storage.exists(made.drawing.name), default_storage.exists(made.digit.name)]


def test_ended_sessions_old_unreviewed_and_rejected_samples_go_with_their_files_approved_ones_stay_detached(
    sessions, make_sample, settings, django_capture_on_commit_callbacks
):
    assert settings.ANONYMOUS_SAMPLES_KEEP_DAYS == 30
    doomed = [sample(make_sample, EXPIRED), sample(make_sample, DELETED), sample(make_sample, EXPIRED, "rejected")]
    recent = sample(make_sample, EXPIRED, days_old=29)  # within the keep period: staff may still review it
    approved = sample(make_sample, DELETED, "approved", days_old=400)
    live = [sample(make_sample, LIVE), sample(make_sample, LIVE, "rejected"), sample(make_sample, LIVE, "approved")]
    with django_capture_on_commit_callbacks(execute=True):
        assert ended_sessions_samples_clean(now=timezone.now()) == (3, 1)
    assert not Sample.objects.filter(pk__in=[s.pk for s in doomed]).exists()
    assert all(files_of(s) == [False, False] for s in doomed)
    kept = {s.pk: s for s in Sample.objects.all()}
    assert set(kept) == {recent.pk, approved.pk, *(s.pk for s in live)}
    assert kept[approved.pk].session_key is None and files_of(approved) == [True, True]  # kept, no one's any more
    assert kept[recent.pk].session_key == EXPIRED
    assert {(kept[s.pk].session_key, kept[s.pk].status) for s in live} == {(LIVE, "new"), (LIVE, "rejected"),
                                                                          (LIVE, "approved")}
    assert all(files_of(s) == [True, True] for s in [recent, *live])


def test_detached_samples_are_left_alone(sessions, make_sample, django_capture_on_commit_callbacks):
    kept = sample(make_sample, DELETED, "approved")
    with django_capture_on_commit_callbacks(execute=True):
        ended_sessions_samples_clean(now=timezone.now())
        Sample.objects.filter(pk=kept.pk).update(status="new")  # staff sent it back to review
        assert ended_sessions_samples_clean(now=timezone.now()) == (0, 0)
    assert Sample.objects.filter(pk=kept.pk, session_key=None).exists()


def orphan(name: str) -> str:
    return default_storage.save(f"samples/2026/01/{name * 32}-drawing.png", io.BytesIO(b"no sample refers to me"))


def test_a_file_written_within_the_grace_period_is_never_swept(make_sample, settings):
    assert settings.CLEANUP_GRACE_SECONDS == 3600
    kept = make_sample()
    being_saved = orphan("a")  # its sample's row is not committed yet: it looks orphaned
    left_behind = orphan("b")
    an_hour_ago = (timezone.now() - timedelta(seconds=3601)).timestamp()
    os.utime(default_storage.path(left_behind), (an_hour_ago, an_hour_ago))
    assert media_orphans_remove(dry_run=True) == [left_behind]
    assert media_orphans_remove() == [left_behind]
    assert default_storage.exists(being_saved) and not default_storage.exists(left_behind)
    assert files_of(kept) == [True, True]
    assert media_orphans_remove(now=timezone.now() + timedelta(hours=2)) == [being_saved]  # its row never came


def test_one_cleanup_ends_expired_sessions_and_everything_kept_for_them(sessions, make_sample,
                                                                      django_capture_on_commit_callbacks):
    old = sample(make_sample, EXPIRED)
    with django_capture_on_commit_callbacks(execute=True):
        cleanup = stored_data_clean()
    assert not Session.objects.filter(session_key=EXPIRED).exists()  # no cron for clearsessions either
    assert Session.objects.filter(session_key=LIVE).exists()
    assert cleanup.counts() == {"personal_models_of_ended_sessions": 0, "rejected_weights": 0,
                                "samples_deleted": 1, "samples_detached": 0, "orphaned_files": 0}
    assert files_of(old) == [False, False]
