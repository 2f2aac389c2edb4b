"""Model versions in the admin: shared or personal, the gate's verdict, deleting with files, rejected activations,
and cleaning up after ended sessions."""

import re
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.utils import timezone

from recognizer.models import ModelVersion, PersonalModel, Sample
from recognizer.versions import personal_model_promote
from recognizer.visitors import Visitor
from recognizer.ml.figures import HeldOut, Scores, VersionFigures

VERSIONS_URL = "/admin/recognizer/modelversion/"
SAMPLES_URL = "/admin/recognizer/sample/"
OWNER = "p" * 32


@pytest.fixture
def personal(active_model_version, tiny_checkpoint, store_version):
    version = store_version("personal.pt", tiny_checkpoint, owner=OWNER, parent=active_model_version, gate_passed=True,
                            gate_reason="MNIST validation 99.60% → 99.58%")
    personal_model_promote(visitor=Visitor(OWNER), version=version)
    return version


@pytest.fixture
def rejected(active_model_version, tiny_checkpoint, store_version):
    return store_version("rejected.pt", tiny_checkpoint, parent=active_model_version, gate_passed=False,
                         gate_reason="MNIST validation accuracy on 4s fell from 99.50% to 97.00%")


def act(client, action: str, objects, **extra):
    return client.post(VERSIONS_URL, {"action": action, "_selected_action": [o.pk for o in objects], **extra},
                       follow=True)


def test_versions_say_shared_or_personal_with_the_owners_short_id_and_filter_by_it(admin_client, personal,
                                                                                    active_model_version):
    page = admin_client.get(VERSIONS_URL).content.decode()
    assert "personal · session pppppppp" in page and "shared" in page
    personal_only = admin_client.get(VERSIONS_URL, {"kind": "personal"}).content.decode()
    assert "pppppppp" in personal_only and '<td class="field-kind_and_owner">shared</td>' not in personal_only
    assert '<td class="field-kind_and_owner">shared</td>' in page


def test_a_rejected_version_is_marked_with_the_gates_reason(admin_client, rejected):
    page = admin_client.get(VERSIONS_URL).content.decode()
    assert "✗ REJECTED: MNIST validation accuracy on 4s fell" in page


def test_activating_a_rejected_version_asks_first_and_shows_why(admin_client, rejected, active_model_version):
    page = act(admin_client, "activate", [rejected]).content.decode()
    assert "The quality gate rejected" in page and "on 4s fell from 99.50% to 97.00%" in page
    assert ModelVersion.objects.get(is_active=True) == active_model_version
    act(admin_client, "activate", [rejected], confirm="yes")
    assert ModelVersion.objects.get(is_active=True) == rejected


def test_a_personal_version_cannot_be_activated_for_everyone(admin_client, personal, active_model_version):
    page = act(admin_client, "activate", [personal]).content.decode()
    assert "Not activated" in page and "personal model" in page
    assert ModelVersion.objects.get(is_active=True) == active_model_version


def test_deleting_a_personal_version_deletes_its_file_and_its_session_goes_back_to_shared(
    admin_client, personal, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        act(admin_client, "delete_selected", [personal], post="yes")
    assert not ModelVersion.objects.filter(pk=personal.pk).exists() and not personal.weights_path.exists()
    assert not PersonalModel.objects.exists()


def test_staff_approve_a_whole_sessions_samples_at_once(admin_client, make_sample):
    theirs = [make_sample(session_key="a" * 32) for _ in range(3)]
    other = make_sample(session_key="b" * 32)
    Sample.objects.filter(pk=theirs[2].pk).update(status="rejected")
    admin_client.post(SAMPLES_URL, {"action": "approve_sessions", "_selected_action": [theirs[0].pk]})
    statuses = dict(Sample.objects.values_list("pk", "status"))
    assert [statuses[s.pk] for s in theirs] == ["approved", "approved", "rejected"]
    assert statuses[other.pk] == "new"


def test_cleanup_removes_personal_models_of_ended_sessions_and_old_rejected_weights(
    personal, rejected, tiny_checkpoint, store_version, django_capture_on_commit_callbacks
):
    live_key = "l" * 32
    Session.objects.create(session_key=live_key, session_data="", expire_date=timezone.now() + timedelta(days=1))
    Session.objects.create(session_key=OWNER, session_data="", expire_date=timezone.now() - timedelta(days=1))
    alive = store_version("alive.pt", tiny_checkpoint, owner=live_key)
    personal_model_promote(visitor=Visitor(live_key), version=alive)
    ModelVersion.objects.filter(pk=rejected.pk).update(created=timezone.now() - timedelta(days=8))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("cleanup_media")
    assert not ModelVersion.objects.filter(pk=personal.pk).exists() and not personal.weights_path.exists()
    assert ModelVersion.objects.filter(pk=alive.pk).exists() and alive.weights_path.exists()
    rejected.refresh_from_db()  # the row and what the gate measured stay; the 1.7 MB file goes
    assert rejected.gate_reason and not rejected.weights_path.exists()


def test_a_versions_metrics_are_tables_of_rounded_figures_not_raw_json(admin_client, active_model_version):
    page = admin_client.get(f"{VERSIONS_URL}{active_model_version.pk}/change/").content.decode()
    figures = page[page.index('class="form-row field-figures"'):page.index('class="form-row field-is_active"')]
    assert not re.search(r"\d\.\d{5,}", figures) and "{&quot;" not in figures  # the card's 16-digit floats
    assert "<th scope=\"row\">MNIST test accuracy</th><td>99.69\u00a0% of 10,000 images</td>" in figures
    accuracy_of_1 = active_model_version.figures.mnist_test.per_digit[1]
    assert f"<th scope=\"row\">1</th><td>{accuracy_of_1 * 100:.2f}\u00a0%</td>" in figures  # per digit, a row each


def test_a_fine_tuned_versions_page_shows_its_held_out_drawings_and_links_its_run(admin_client, rejected):
    rejected.metrics = VersionFigures(
        mnist_validation=Scores(accuracy=0.9957999999999999, count=10000),
        held_out=HeldOut(count=10, before=0.8, after=0.7000000000000001,
                         per_digit={"4": {"count": 10, "before": 0.8, "after": 0.7000000000000001}}),
        nondigit_recall=0.9333333333333333, training_run=12).to_json()
    rejected.save()
    page = admin_client.get(f"{VERSIONS_URL}{rejected.pk}/change/").content.decode()
    assert "99.58\u00a0% of 10,000 images" in page and "93.33\u00a0%" in page
    assert "80.00\u00a0% → 70.00\u00a0% of 10" in page  # held out: its parent, then this version
    assert "<th scope=\"row\">4</th><td>10</td><td>80.00\u00a0%</td><td>70.00\u00a0%</td>" in page
    assert '<a href="/admin/training/trainingrun/12/change/">training run 12</a>' in page
    assert "0.7000000000000001" not in page
