"""Budgets that hold whoever asks: samples per client network per day (a new cookie is no new budget), a ceiling on
unreviewed samples for the whole site, a budget on every method of the API, and sessions that live while used."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from recognizer.models import Sample
from recognizer.ratelimit import Budget
from recognizer.tests.drawings import as_upload, canvas_png
from recognizer.tests.test_numbers import ONE, SEVEN as SEVEN_STROKES, written
from recognizer.tests.test_ratelimit import at_the_start_of_a_window

pytestmark = pytest.mark.django_db
SEVEN = canvas_png()


def save(client: Client, label: str = "7"):
    return client.post("/api/samples", {"file": as_upload(SEVEN), "label": label})


def test_dropping_the_cookie_does_not_renew_a_networks_daily_sample_budget(settings, active_model_version):
    settings.MAX_SAMPLES_PER_NETWORK_PER_DAY = 2
    assert save(Client(REMOTE_ADDR="198.51.100.7")).status_code == 201
    assert save(Client(REMOTE_ADDR="198.51.100.7")).status_code == 201
    refused = save(Client(REMOTE_ADDR="198.51.100.7"))
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "last 24 hours" in refused.json()["error"]
    assert Sample.objects.count() == 2
    assert save(Client(REMOTE_ADDR="198.51.100.8")).status_code == 201  # another network has its own


def test_a_number_that_would_pass_the_daily_budget_is_refused_whole(settings, active_model_version):
    settings.MAX_SAMPLES_PER_NETWORK_PER_DAY = 2
    client = Client(REMOTE_ADDR="198.51.100.9")
    assert save(client).status_code == 201
    refused = client.post("/api/samples/number", {"file": as_upload(written(SEVEN_STROKES, ONE)), "labels": "71"})
    assert refused.status_code == 429, refused.content
    assert Sample.objects.count() == 1


def test_an_ipv6_household_is_one_network_its_neighbour_another(settings, active_model_version):
    settings.MAX_SAMPLES_PER_NETWORK_PER_DAY = 1
    assert save(Client(REMOTE_ADDR="2001:db8:1:2::10")).status_code == 201
    assert save(Client(REMOTE_ADDR="2001:db8:1:2:ffff::99")).status_code == 429  # the same /64
    assert save(Client(REMOTE_ADDR="2001:db8:1:3::10")).status_code == 201


def test_the_site_stops_keeping_drawings_at_its_unreviewed_ceiling_until_staff_review(settings, active_model_version):
    settings.MAX_UNREVIEWED_SAMPLES = 2
    assert save(Client()).status_code == 201
    assert save(Client()).status_code == 201
    refused = save(Client())
    assert refused.status_code == 503 and int(refused["Retry-After"]) > 0
    assert "waiting for review" in refused.json()["error"]
    assert Sample.objects.count() == 2
    assert Client().post("/api/predict", {"file": as_upload(SEVEN)}).status_code == 200  # reading still works
    Sample.objects.update(status=Sample.Status.APPROVED)
    assert save(Client()).status_code == 201


@pytest.fixture
def budgets(settings, active_model_version, tmp_path):
    at_the_start_of_a_window(60)
    settings.RATE_LIMIT_STORE = tmp_path / "ratelimit.sqlite3"
    settings.RATE_LIMIT_ENABLED = True
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "samples": Budget(3, 60), "reads": Budget(4, 60),
                            "train": Budget(3, 60)}
    return settings


@pytest.mark.parametrize("path", ["/api/samples", "/api/train", "/api/model", "/api/me", "/api/health"])
def test_reads_have_a_budget_of_their_own(budgets, path):
    client = Client()
    assert [client.get(path).status_code for _ in range(4)] == [200] * 4
    refused = client.get(path)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "Too many requests" in refused.json()["error"]
    assert Client(REMOTE_ADDR="192.0.2.1").get(path).status_code == 200


def test_deletes_spend_the_budget_of_changes(budgets):
    client = Client()
    statuses = [client.delete("/api/samples").status_code for _ in range(4)]
    assert statuses == [204, 204, 204, 429]
    assert client.delete("/api/model").status_code == 429


def test_a_used_session_stays_alive_and_an_unused_one_ends(active_model_version):
    client = Client()
    assert save(client).status_code == 201
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    stored = SessionStore(session_key=key)
    stored["seen"] = "2000-01-01"  # last used long ago...
    stored.save()
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() + timedelta(hours=1))  # ...ends soon

    assert client.get("/api/samples").json()["total"] == 1  # used today

    expiry = Session.objects.get(session_key=key).expire_date
    assert expiry > timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE - 60)
    assert client.cookies[settings.SESSION_COOKIE_NAME].value == key  # same session, renewed
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/samples").json()["total"] == 0  # an ended session shows nothing


def test_a_refused_save_or_run_from_a_new_visitor_leaves_no_session_behind(settings, active_model_version):
    settings.MAX_SAMPLES_PER_NETWORK_PER_DAY = 1
    assert save(Client()).status_code == 201
    sessions = Session.objects.count()
    refused = Client()
    assert save(refused).status_code == 429
    assert refused.post("/api/train").status_code == 400  # nothing to train on
    assert Session.objects.count() == sessions
    assert not refused.cookies.get(settings.SESSION_COOKIE_NAME) or not refused.cookies[
        settings.SESSION_COOKIE_NAME].value
