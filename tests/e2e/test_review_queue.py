"""The admin's review queue by keyboard: decisions take effect without a reload, the row goes, the progress
figure moves and focus goes to the next sample; the samples' rows change in the database."""

import pytest
from playwright.sync_api import Page, expect

from recognizer.models import Sample
from recognizer.review import samples_score

from .helpers import shot

pytestmark = pytest.mark.e2e


@pytest.fixture
def queue(page: Page, live_server, admin_user, make_sample, active_model_version) -> Page:
    make_sample(session_key="a" * 32, label=3)  # a 7 labelled 3: the most suspicious, first in the queue
    make_sample(session_key="b" * 32, label=7)
    make_sample(session_key="c" * 32, label=7, width=24)
    samples_score(batch_size=16)
    return signed_in_queue(page, live_server.url, "0 of 3")


def signed_in_queue(page: Page, url: str, progress: str) -> Page:
    page.goto(f"{url}/admin/login/?next=/admin/recognizer/sample/review/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    expect(page.locator("#review-count")).to_have_text(progress)
    return page


def test_keys_decide_samples_without_a_reload_and_move_to_the_next(queue: Page):
    page = queue
    page.evaluate("window.sameDocument = true")   # gone if the page reloads
    rows = page.locator(".review-table tbody tr")
    suspicious = Sample.objects.get(label=3)
    expect(rows.first).to_have_attribute("id", f"sample-{suspicious.pk}")

    page.keyboard.press("l")   # relabel as the model reads it: 7

    expect(page.locator("#review-status")).to_have_text(f"Sample {suspicious.pk} relabelled as 7 and approved.")
    expect(rows).to_have_count(2)
    expect(page.locator("#review-count")).to_have_text("1 of 3")
    suspicious.refresh_from_db()
    assert (suspicious.label, suspicious.status) == (7, Sample.Status.APPROVED)
    expect(rows.first.locator("button").first).to_be_focused()   # the next sample, ready for the next key

    page.keyboard.press("j")
    second = int(rows.nth(1).get_attribute("id").removeprefix("sample-"))
    page.keyboard.press("r")
    expect(rows).to_have_count(1)
    expect(page.locator("#review-count")).to_have_text("2 of 3")
    assert Sample.objects.get(pk=second).status == Sample.Status.REJECTED
    assert page.evaluate("window.sameDocument") is True
    shot(page.locator("#content"), "review-queue-by-keyboard")


def test_l_relabels_a_sample_not_scored_yet_as_the_reading_saved_with_it(page: Page, live_server, admin_user,
                                                                        make_sample, active_model_version, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}  # no worker has scored yet
    fresh = make_sample(session_key="a" * 32, label=3)  # a 7 labelled 3, read as 7 when it was saved
    make_sample(session_key="b" * 32, label=7)
    assert not Sample.objects.exclude(scored_by=None).exists()
    signed_in_queue(page, live_server.url, "0 of 2")
    rows = page.locator(".review-table tbody tr")
    expect(rows.first).to_have_attribute("id", f"sample-{fresh.pk}")   # placed by its saved reading: first
    expect(rows.first).to_contain_text("when saved, not scored yet")
    shot(page.locator("#content"), "review-queue-unscored-rows")

    page.keyboard.press("l")

    expect(page.locator("#review-status")).to_have_text(f"Sample {fresh.pk} relabelled as 7 and approved.")
    expect(rows).to_have_count(1)
    fresh.refresh_from_db()
    assert (fresh.label, fresh.status, fresh.scored_by) == (7, Sample.Status.APPROVED, None)

    page.keyboard.press("l")   # read as its label: nothing to relabel it as, and the page says so
    expect(page.locator("#review-status")).to_contain_text("no other digit to relabel this sample as")
    expect(rows).to_have_count(1)
