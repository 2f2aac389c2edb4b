"""The shared model changes only through staff: approved samples, a share cap per session, a stricter gate, and a
candidate that waits for staff to activate it."""

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command

from mnistsite import settings as shipped
from recognizer.models import ModelVersion, Sample
from training.ml.adapt import HOLDOUT_MIN_PER_DIGIT
from training.exceptions import TooFewSamples
from training.models import TrainingRun
from training.services import shared_samples, training_run_create_shared

TRAIN_SHARED_URL = "/admin/training/trainingrun/train-shared/"
RUNS_URL = "/admin/training/trainingrun/"
FLAG_ONE = [(0.2, 0.25), (0.55, 0.0), (0.55, 1.0), (0.2, 1.0), (0.9, 1.0)]


@pytest.fixture(autouse=True)
def quick_training(settings):
    settings.FINE_TUNE = {"epochs": 2, "replay": 1000}
    settings.FINE_TUNE_VALIDATION_LIMIT = 2000


def approved(make_sample, session: str, count: int, label: int = 1, **drawing) -> list[Sample]:
    made = [make_sample(session_key=session * 32, label=label, width=12 + i % 5, **drawing) for i in range(count)]
    Sample.objects.filter(pk__in=[s.pk for s in made]).update(status="approved")
    return made


def test_no_session_makes_up_more_than_its_share_and_what_was_left_out_is_said(make_sample, active_model_version):
    approved(make_sample, "a", 10)
    for session in "bcde":
        approved(make_sample, session, 2)
    kept, left_out = shared_samples(0.25)
    per_session = {}
    for key in Sample.objects.filter(pk__in=kept).values_list("session_key", flat=True):
        per_session[key] = per_session.get(key, 0) + 1
    assert max(per_session.values()) <= 0.25 * len(kept)
    assert len(kept) == 10 and left_out == {"aaaaaaaa": 8}


def test_new_and_rejected_samples_are_never_in_a_shared_run(make_sample, active_model_version):
    for session in "abcd":
        approved(make_sample, session, 1)
    make_sample(session_key="e" * 32)
    kept, _ = shared_samples(0.25)
    assert set(Sample.objects.filter(pk__in=kept).values_list("status", flat=True)) == {"approved"}


def test_with_too_few_sessions_the_command_says_how_many_are_needed(make_sample, active_model_version):
    approved(make_sample, "a", 3)
    with pytest.raises(CommandError, match="at least 4 sessions"):
        call_command("train_shared")
    assert not TrainingRun.objects.exists()


@pytest.fixture
def shipped_minimum(settings):
    """The minimum the site ships with (the test settings turn it off for the tests that don't check it)."""
    settings.SHARED_MIN_SAMPLES = shipped.SHARED_MIN_SAMPLES
    return shipped.SHARED_MIN_SAMPLES


def test_the_shipped_minimum_always_holds_some_drawings_out():
    # With fewer than 5 of every digit nothing is held out: 10 × 4 samples can do that, one more cannot.
    assert shipped.SHARED_MIN_SAMPLES > 10 * (HOLDOUT_MIN_PER_DIGIT - 1)


def test_below_the_minimum_a_shared_run_is_refused_and_the_page_says_how_many_more(
    admin_client, make_sample, active_model_version, tasks_not_run, shipped_minimum
):
    for session in "abcd":
        approved(make_sample, session, 2)  # 8 approved samples
    page = admin_client.get(TRAIN_SHARED_URL).content.decode()
    needed = (f"A shared run needs at least {shipped_minimum} approved samples it may use, so that its gate can "
              f"judge it on drawings it did not train on: 8 can be used now. Approve at least {shipped_minimum - 8} "
              "more")
    assert needed in page and page.index(needed) < page.index('value="Start the shared fine-tune" disabled')
    response = admin_client.post(TRAIN_SHARED_URL, follow=True)
    assert f"Not started: {needed}" in response.content.decode()
    with pytest.raises(TooFewSamples, match=f"Approve at least {shipped_minimum - 8} more"):
        training_run_create_shared(requested_by="staff")
    with pytest.raises(CommandError, match="needs at least"):
        call_command("train_shared")
    assert not TrainingRun.objects.exists()


def test_a_shared_run_with_enough_samples_but_none_to_hold_out_is_refused(admin_client, make_sample,
                                                                          active_model_version, tasks_not_run,
                                                                          settings):
    settings.SHARED_MIN_SAMPLES = 8
    for session, first in zip("abcd", (0, 2, 4, 6)):
        approved(make_sample, session, 1, label=first)
        approved(make_sample, session, 1, label=first + 1)  # 8 samples, 8 digits: no digit 5 times
    with pytest.raises(TooFewSamples, match="No digit has 5 approved samples"):
        training_run_create_shared(requested_by="staff")
    settings.SHARED_MIN_SAMPLES = 0  # no minimum: the page says plainly what such a run cannot show
    page = admin_client.get(TRAIN_SHARED_URL).content.decode()
    assert "<strong>None of them would be held out</strong>: no digit\n        has 5 of them" in page
    assert "needs at least" not in page


def test_at_the_minimum_the_page_says_how_many_are_held_out_and_the_run_starts(
    admin_client, make_sample, active_model_version, tasks_not_run, settings
):
    settings.SHARED_MIN_SAMPLES = 8
    for session in "abcd":
        approved(make_sample, session, 2)  # 8 ones: a fifth of them held out
    page = admin_client.get(TRAIN_SHARED_URL).content.decode()
    assert "2 of them would be held out, never trained on, to judge the\n        candidate, and 6 trained on" in page
    assert "errornote" not in page and 'value="Start the shared fine-tune">' in page
    assert admin_client.post(TRAIN_SHARED_URL).status_code == 302 and TrainingRun.objects.get().samples.count() == 8


def test_the_admin_shows_the_plan_and_starts_a_queued_shared_run(admin_client, make_sample, active_model_version,
                                                                 tasks_not_run):
    approved(make_sample, "a", 5)
    for session in "bcd":
        approved(make_sample, session, 2)
    page = admin_client.get(TRAIN_SHARED_URL).content.decode()
    assert "11 approved samples from 4 sessions" in page and "Session aaaaaaaa: 3 samples left out" in page
    response = admin_client.post(TRAIN_SHARED_URL)
    run = TrainingRun.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/trainingrun/{run.pk}/change/")
    assert (run.kind, run.status, run.session_key, run.requested_by) == ("shared", "queued", None, "admin")
    assert run.samples.count() == 8 and run.outcome.left_out == {"aaaaaaaa": 3}
    assert "already queued" in admin_client.get(TRAIN_SHARED_URL).content.decode()


def test_starting_a_shared_run_is_on_record_with_the_staff_member(admin_client, make_sample, active_model_version,
                                                                  tasks_not_run):
    for session in "abcd":
        approved(make_sample, session, 2)
    admin_client.post(TRAIN_SHARED_URL)
    run, entry = TrainingRun.objects.get(), LogEntry.objects.get()
    assert (entry.user.username, entry.action_flag, entry.object_id) == ("admin", ADDITION, str(run.pk))
    assert entry.change_message == f"Started a shared fine-tune of {active_model_version} on 8 approved samples"


@pytest.mark.parametrize("codenames, may_start", [
    (["view_trainingrun", "view_modelversion"], False),
    (["view_trainingrun", "change_modelversion"], False),
    (["change_trainingrun", "change_modelversion"], True),
])
def test_only_staff_who_may_change_runs_and_versions_see_the_button_and_may_start_a_shared_run(
    client, django_user_model, make_sample, active_model_version, tasks_not_run, codenames, may_start
):
    for session in "abcd":
        approved(make_sample, session, 2)
    staff = django_user_model.objects.create_user("staff", password="a long password 123", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label__in=["recognizer", "training"],
                                                         codename__in=codenames))
    client.force_login(staff)
    assert ("Fine-tune the shared model" in client.get(RUNS_URL).content.decode()) == may_start
    assert client.get(TRAIN_SHARED_URL).status_code == (200 if may_start else 403)
    assert client.post(TRAIN_SHARED_URL).status_code == (302 if may_start else 403)
    assert TrainingRun.objects.exists() == LogEntry.objects.exists() == may_start


def test_visitors_cannot_start_a_shared_run(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("student", password="x" * 20))
    assert client.post(TRAIN_SHARED_URL).status_code == 302  # to the admin login
    assert not TrainingRun.objects.exists()


@pytest.mark.slow
def test_a_shared_candidate_that_passes_waits_for_staff_then_activates_on_request(make_sample, active_model_version,
                                                                                 capsys):
    for session in "abcd":
        approved(make_sample, session, 5, path=FLAG_ONE)
        approved(make_sample, session, 2, label=7)
    call_command("train_shared")
    run = TrainingRun.objects.get()
    assert run.status == "succeeded", run.metrics
    candidate = run.result
    assert candidate.kind == "shared" and candidate.owner is None and candidate.gate_passed and not candidate.is_active
    assert ModelVersion.objects.get(is_active=True) == active_model_version  # it waits for staff
    assert candidate.figures.mnist_test.accuracy >= 0.99 and len(candidate.figures.mnist_test.per_digit) == 10
    assert "activate it in the admin" in capsys.readouterr().out
    call_command("train_shared", "--activate")
    assert ModelVersion.objects.get(is_active=True) == TrainingRun.objects.first().result
