"""Staff actions on record and permission-checked: approve, reject, relabel and activate write the admin's history
with who did it, a version's page shows when it served and who activated it, and view-only staff are offered
none of these actions and are refused (403) when they forge them."""

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.utils import timezone
from django.utils.formats import localize

from recognizer.admin_staff import activations
from recognizer.models import ModelVersion, Sample

SAMPLES_URL = "/admin/recognizer/sample/"
VERSIONS_URL = "/admin/recognizer/modelversion/"
QUEUE = "/admin/recognizer/sample/review/"
JSON_PLEASE = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def samples(make_sample):
    return [make_sample(session_key="a" * 32, label=7), make_sample(session_key="b" * 32, label=1),
            make_sample(session_key="b" * 32, label=3)]


@pytest.fixture
def stored_version(active_model_version, tiny_checkpoint, store_version):
    return store_version("other.pt", tiny_checkpoint, parent=active_model_version)


@pytest.fixture
def viewer(client, django_user_model):
    """A client signed in as staff who may see samples, model versions and training runs, and change none."""
    user = django_user_model.objects.create_user("viewer", password="a long password 123", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(
        content_type__app_label__in=["recognizer", "training"],
        codename__in=["view_sample", "view_modelversion", "view_trainingrun"]))
    client.force_login(user)
    return client


def act(client, url: str, action: str, objects, **extra):
    return client.post(url, {"action": action, "_selected_action": [o.pk for o in objects], **extra})


def history(model) -> list[tuple[int, str, str]]:
    """The admin's history of ``model``'s rows, oldest first: (row id, who, what)."""
    entries = LogEntry.objects.filter(content_type__model=model._meta.model_name).order_by("pk")
    return [(int(e.object_id), e.user.username, e.change_message) for e in entries if e.action_flag == CHANGE]


def test_approve_reject_and_relabel_actions_are_on_record_with_the_staff_member(admin_client, samples):
    seven, one, three = samples
    act(admin_client, SAMPLES_URL, "approve", [seven, one])
    act(admin_client, SAMPLES_URL, "approve", [seven])  # already approved: nothing changes, nothing recorded
    act(admin_client, SAMPLES_URL, "reject", [three])
    act(admin_client, SAMPLES_URL, "relabel_as_9", [one, three])
    act(admin_client, SAMPLES_URL, "relabel_as_9", [one])
    assert sorted(history(Sample)) == sorted([
        (seven.pk, "admin", "Approved"), (one.pk, "admin", "Approved"), (three.pk, "admin", "Rejected"),
        (one.pk, "admin", "Relabelled 1 → 9"), (three.pk, "admin", "Relabelled 3 → 9")])
    page = admin_client.get(f"{SAMPLES_URL}{one.pk}/history/").content.decode()
    assert "Relabelled 1 → 9" in page and "Approved" in page


def test_approving_whole_sessions_records_each_sample_it_changes(admin_client, samples):
    act(admin_client, SAMPLES_URL, "approve_sessions", [samples[1]])
    assert sorted(history(Sample)) == [(samples[1].pk, "admin", "Approved"), (samples[2].pk, "admin", "Approved")]


def test_each_review_queue_decision_is_on_record(admin_client, samples, active_model_version):
    seven, one, three = samples
    for sample, decision in ((three, "relabel"), (one, "reject"), (seven, "approve")):
        answer = admin_client.post(QUEUE, {"sample": sample.pk, "decision": decision, "label": "9"}, **JSON_PLEASE)
        assert answer.status_code == 200 and answer.json()["done"] is True
    assert history(Sample) == [(three.pk, "admin", "Relabelled 3 → 9 and approved"), (one.pk, "admin", "Rejected"),
                               (seven.pk, "admin", "Approved")]
    admin_client.post(QUEUE, {"sample": seven.pk, "decision": "approve"}, **JSON_PLEASE)  # a second click
    assert len(history(Sample)) == 3


def test_activating_is_on_record_and_the_versions_page_says_when_it_served_and_who_activated_it(
    admin_client, stored_version, active_model_version
):
    base = active_model_version
    for version in (stored_version, base, stored_version):
        act(admin_client, VERSIONS_URL, "activate", [version])
    assert history(ModelVersion) == [
        (stored_version.pk, "admin", f"Activated: now serving everyone (was {base})"),
        (base.pk, "admin", f"Activated: now serving everyone (was {stored_version})"),
        (stored_version.pk, "admin", f"Activated: now serving everyone (was {base})")]
    base.refresh_from_db()
    stored_version.refresh_from_db()
    assert [(a.by, a.until) for a in activations(stored_version)] == [("admin", None), ("admin", base.activated)]
    assert [(a.by, a.until) for a in activations(base)] == [("admin", stored_version.activated)]

    page = admin_client.get(f"{VERSIONS_URL}{stored_version.pk}/change/").content.decode()
    assert page.count("by admin: served everyone until") == 2
    assert page.index("until now") < page.index(f"until {localize(timezone.localtime(base.activated))}")
    page = admin_client.get(f"{VERSIONS_URL}{base.pk}/change/").content.decode()
    assert f"by admin: served everyone until {localize(timezone.localtime(stored_version.activated))}" in page


def test_a_version_never_activated_in_the_admin_says_so(admin_client, stored_version):
    page = admin_client.get(f"{VERSIONS_URL}{stored_version.pk}/change/").content.decode()
    assert "No activation in the admin&#x27;s history." in page


def test_a_refused_activation_is_not_on_record(admin_client, stored_version):
    stored_version.weights_path.write_bytes(b"broken")
    act(admin_client, VERSIONS_URL, "activate", [stored_version])
    assert history(ModelVersion) == []


def test_view_only_staff_are_offered_no_actions_that_change_samples_or_versions(viewer, admin_client, samples,
                                                                                active_model_version):
    for client, offered in ((admin_client, True), (viewer, False)):
        page = client.get(SAMPLES_URL).content.decode()
        assert 'value="export_zip"' in page
        assert all((f'value="{action}"' in page) == offered for action in ("approve", "reject", "relabel_as_9"))
        assert ('value="activate"' in client.get(VERSIONS_URL).content.decode()) == offered
        queue = client.get(QUEUE)
        assert queue.status_code == 200 and f'id="sample-{samples[0].pk}"' in queue.content.decode()
        assert ('name="decision"' in queue.content.decode()) == offered


def test_forged_actions_of_view_only_staff_are_refused_and_change_nothing(viewer, samples, stored_version):
    for action in ("approve", "reject", "relabel_as_9", "approve_sessions"):
        assert act(viewer, SAMPLES_URL, action, samples).status_code == 403
    for decision in ("approve", "reject", "relabel"):
        refused = viewer.post(QUEUE, {"sample": samples[0].pk, "decision": decision, "label": "9"}, **JSON_PLEASE)
        assert refused.status_code == 403
    assert act(viewer, VERSIONS_URL, "activate", [stored_version]).status_code == 403
    assert list(Sample.objects.order_by("pk").values_list("status", "label")) == [("new", 7), ("new", 1), ("new", 3)]
    assert not ModelVersion.objects.get(pk=stored_version.pk).is_active
    assert not LogEntry.objects.exists()
