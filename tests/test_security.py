"""CSRF on every state-changing endpoint, and only prediction (which changes nothing) exempt from it."""

import pytest
from django.test import Client
from django.urls import get_resolver

from recognizer.models import Sample
from recognizer.tests.drawings import as_upload, canvas_png
from training.models import TrainingRun

pytestmark = pytest.mark.django_db


def callbacks(resolver=None):
    for pattern in (resolver or get_resolver()).url_patterns:
        if hasattr(pattern, "url_patterns"):
            yield from callbacks(pattern)
        else:
            yield pattern.callback


def test_only_views_that_change_nothing_are_exempt_from_csrf():
    exempt = {f"{view.__module__}.{view.__name__}" for view in callbacks() if getattr(view, "csrf_exempt", False)}
    assert exempt == {"recognizer.api.predict", "recognizer.api.read", "recognizer.api.health"}


def test_posting_to_the_health_view_is_told_the_methods_that_work():
    response = Client(enforce_csrf_checks=True).post("/api/health")
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD" and response.json()["error"]


@pytest.fixture
def csrf_session(active_model_version, tasks_not_run):
    """A browser session with one stored sample, whose requests carry no CSRF token from here on."""
    client = Client(enforce_csrf_checks=True)
    client.get("/")
    token = client.cookies["csrftoken"].value
    saved = client.post("/api/samples", {"file": as_upload(canvas_png()), "label": "7"}, HTTP_X_CSRFTOKEN=token)
    assert saved.status_code == 201
    return client, saved.json()["id"]


@pytest.mark.parametrize("method, url", [
    ("post", "/api/samples"), ("delete", "/api/samples"), ("delete", "/api/samples/{id}"), ("post", "/api/train"),
])
def test_state_changing_requests_without_the_token_are_refused_and_change_nothing(csrf_session, method, url):
    client, sample_id = csrf_session
    data = {"file": as_upload(canvas_png()), "label": "7"} if method == "post" else None
    response = getattr(client, method)(url.format(id=sample_id), data)
    assert response.status_code == 403 and "CSRF" in response.json()["error"]
    assert list(Sample.objects.values_list("pk", flat=True)) == [sample_id]
    assert not TrainingRun.objects.exists()


@pytest.mark.parametrize("content_type, body", [
    ("application/x-www-form-urlencoded; charset=latin-1", "label=7"),
    ("multipart/form-data", "label=7"),  # no boundary
])
def test_bodies_the_csrf_check_cannot_read_get_a_json_400_not_a_500(csrf_session, content_type, body):
    client, sample_id = csrf_session
    token = client.cookies["csrftoken"].value
    client.raise_request_exception = False
    response = client.post("/api/samples", body, content_type=content_type, HTTP_X_CSRFTOKEN=token)
    assert response.status_code in {400, 403} and response["Content-Type"] == "application/json", response.content
    assert response.json()["error"]
    assert list(Sample.objects.values_list("pk", flat=True)) == [sample_id]
