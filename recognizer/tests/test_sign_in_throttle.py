"""The admin's sign-in throttle fails closed: while the store of failed sign-ins cannot be opened, every sign-in
is refused with a plain message, where request budgets on the same broken store let requests through."""

import pytest
from django.test import Client

from recognizer.ratelimit import Budget
from recognizer.tests.drawings import as_upload, canvas_png

RIGHT = "alice's right password"
UNAVAILABLE = "Sign-in is unavailable for a moment; try again shortly."


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password=RIGHT, is_staff=True)


@pytest.fixture(params=["a directory", "below a file"])
def broken_store(request, settings, tmp_path):
    """RATE_LIMIT_STORE where SQLite cannot open a database: a directory, or a path whose folder is a file."""
    (tmp_path / "a file").write_text("not a folder")
    settings.RATE_LIMIT_STORE = tmp_path if request.param == "a directory" else tmp_path / "a file" / "limits.sqlite3"
    settings.RATE_LIMIT_ENABLED = True
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "predict": Budget(5, 60), "login": Budget(10, 60)}
    return settings


def sign_in(client: Client, password: str):
    return client.post("/admin/login/", {"username": "alice", "password": password, "next": "/admin/"})


@pytest.mark.parametrize("password", [RIGHT, "a wrong guess"])
def test_no_sign_in_gets_through_while_the_store_cannot_count_failures(broken_store, alice, password, caplog):
    client = Client(REMOTE_ADDR="10.0.0.1")
    refused = sign_in(client, password)
    assert refused.status_code == 200 and UNAVAILABLE in refused.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302  # still signed out
    assert "failed, login refused" in caplog.text


def test_request_budgets_on_the_same_broken_store_still_let_requests_through(broken_store, active_model_version):
    response = Client().post("/api/predict", {"file": as_upload(canvas_png())})
    assert response.status_code == 200


def test_sign_in_works_again_once_the_store_does(broken_store, alice, tmp_path):
    client = Client(REMOTE_ADDR="10.0.0.1")
    assert UNAVAILABLE in sign_in(client, RIGHT).content.decode()
    broken_store.RATE_LIMIT_STORE = tmp_path / "limits.sqlite3"
    signed_in = sign_in(client, RIGHT)
    assert signed_in.status_code == 302 and signed_in["Location"] == "/admin/"
    assert client.session["_auth_user_id"] == str(alice.pk)
