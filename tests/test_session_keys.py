"""Session keys come only from sessions the site issued: a key a client makes up is never used to store data."""

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client

from recognizer.models import Sample
from recognizer.tests.drawings import as_upload, canvas_png

pytestmark = pytest.mark.django_db

CHOSEN_KEYS = [
    "fixedkey-chosen-by-attacker",
    "k" * 5000,                       # longer than the 40-character column (PostgreSQL answered 500)
    '"><img src=x onerror=alert(1)>',
    "=1+1+cmd|' /C calc'!A0",
]


def save(client: Client):
    return client.post("/api/samples", {"file": as_upload(canvas_png()), "label": "7"})


@pytest.mark.parametrize("chosen", CHOSEN_KEYS)
def test_a_made_up_session_key_gets_a_fresh_session_instead(chosen, active_model_version):
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = chosen
    response = save(client)
    assert response.status_code == 201
    stored_key = Sample.objects.get().session_key
    assert stored_key != chosen
    assert response.cookies[settings.SESSION_COOKIE_NAME].value == stored_key  # the client is given the real one
    assert Session.objects.filter(session_key=stored_key).exists()
    assert len(stored_key) == 32 and stored_key.isalnum()


def test_a_made_up_key_reads_nothing_of_a_session_it_does_not_own(active_model_version):
    owner = Client()
    assert save(owner).status_code == 201
    issued = owner.cookies[settings.SESSION_COOKIE_NAME].value
    Session.objects.filter(session_key=issued).delete()  # expired or cleared: the key now names no session
    intruder = Client()
    intruder.cookies[settings.SESSION_COOKIE_NAME] = issued
    assert intruder.get("/api/samples").json()["total"] == 0
    assert intruder.delete(f"/api/samples/{Sample.objects.get().pk}").status_code == 404
    assert Sample.objects.count() == 1


def test_an_issued_session_keeps_its_key_from_save_to_save(active_model_version):
    client = Client()
    assert save(client).status_code == 201
    assert save(client).status_code == 201
    assert Sample.objects.values("session_key").distinct().count() == 1
    assert client.get("/api/samples").json()["total"] == 2
