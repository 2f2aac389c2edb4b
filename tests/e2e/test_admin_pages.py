"""The admin's pages as staff see them at common laptop sizes: the sample list fits without sideways scrolling, a
version's and a run's figures are tables and charts, and a running run's page follows it without a reload."""

from dataclasses import asdict

import pytest
from playwright.sync_api import Page, expect

from recognizer.models import Sample
from recognizer.review import samples_score
from training.ml.adapt import AdaptConfig
from training.models import TrainingRun
from training.tests.test_run_admin import METRICS

from .axe import severe_violations
from .helpers import shot

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ONE = [(0.5, 0.0), (0.5, 1.0)]
# Per epoch, as a fine-tune records it: the loss falls and the accuracy climbs.
HISTORY = [{"epoch": e, "train_loss": 0.8 / e ** 0.7, "train_accuracy": 1 - 0.2 / e ** 0.8} for e in range(1, 9)]
WIDTHS = """() => {
  const box = selector => { const e = document.querySelector(selector); return [e.scrollWidth, e.clientWidth]; };
  return {page: [document.scrollingElement.scrollWidth, innerWidth], results: box(".results"),
          actions: box("#changelist .actions"), table: document.querySelector("#result_list").scrollWidth};
}"""


def sign_in(page: Page, live_server) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")


@pytest.fixture
def busy_sample_list(make_sample, active_model_version) -> None:
    """25 samples from 6 sessions as a site has them: sevens and ones, some labelled otherwise, approved, rejected,
    called no digit or unsure, and ids of six digits."""
    for i in range(25):
        drawing = {"path": ONE} if i % 5 == 1 else {}  # a one, else a seven
        make_sample(session_key=chr(97 + i % 6) * 32, label=(7, 1, 4, 9, 7)[i % 5], **drawing)
    samples_score(batch_size=32)
    ids = list(Sample.objects.order_by("id").values_list("id", flat=True))
    Sample.objects.filter(id__in=ids[:6]).update(status="approved")
    Sample.objects.filter(id__in=ids[6:9]).update(status="rejected", verdict="not_a_digit")
    Sample.objects.filter(id__in=ids[9:11]).update(verdict="unsure")
    for pk in ids:
        Sample.objects.filter(id=pk).update(id=123400 + pk)


@pytest.mark.parametrize("width, height", [(1280, 800), (1366, 768)])
def test_the_sample_list_fits_the_screen_without_sideways_scrolling(page: Page, live_server, admin_user,
                                                                    busy_sample_list, width, height):
    page.set_viewport_size({"width": width, "height": height})
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/admin/recognizer/sample/")
    expect(page.locator("#result_list tbody tr")).to_have_count(25)
    widths = page.evaluate(WIDTHS)
    shot(page, f"admin-samples-{width}x{height}")
    assert widths["page"][0] <= widths["page"][1], widths  # no sideways scrolling of the page
    assert widths["results"][0] <= widths["results"][1], widths  # nor of the table in its box
    assert widths["actions"][0] <= widths["actions"][1], widths  # the Action menu stays in its bar
    assert page.locator("#nav-sidebar").is_visible()  # with the admin's menu open beside it
    disagreeing = page.locator(".reading__read--disagrees").first
    expect(disagreeing).to_contain_text("⚠ read 7")  # a 7 labelled 4: marked only where it disagrees


def test_a_versions_and_a_runs_figures_are_tables_and_charts(page: Page, live_server, admin_user,
                                                             active_model_version):
    run = TrainingRun.objects.create(kind="shared", status="succeeded", progress=1.0, parent=active_model_version,
                                     history=HISTORY, metrics=METRICS, params=asdict(AdaptConfig()),
                                     requested_by="admin", result=active_model_version)
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/admin/recognizer/modelversion/{active_model_version.pk}/change/")
    expect(page.locator(".field-figures")).to_contain_text("99.69\u00a0%")
    shot(page.locator("#content"), "admin-version-page")
    assert severe_violations(page) == []
    page.goto(f"{live_server.url}/admin/training/trainingrun/{run.pk}/change/")
    expect(page.locator(".field-history_shown svg")).to_have_count(2)
    expect(page.locator(".run-progress")).to_contain_text("100\u00a0%")
    shot(page.locator("#content"), "admin-run-page")
    assert page.evaluate("document.scrollingElement.scrollWidth <= innerWidth")
    assert severe_violations(page) == []


def test_a_running_runs_page_follows_the_run_and_reloads_when_it_ends(page: Page, live_server, admin_user,
                                                                      active_model_version):
    run = TrainingRun.objects.create(kind="shared", status="running", progress=0.3, parent=active_model_version,
                                     history=HISTORY[:2], params=asdict(AdaptConfig()), requested_by="admin")
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/admin/training/trainingrun/{run.pk}/change/")
    expect(page.locator(".run-progress")).to_contain_text("30\u00a0% · epoch 2 of 8 done")
    TrainingRun.objects.filter(pk=run.pk).update(progress=0.55, history=HISTORY[:5])
    expect(page.locator(".run-progress")).to_contain_text("55\u00a0% · epoch 5 of 8 done", timeout=8000)
    expect(page.locator(".field-history_shown tbody tr")).to_have_count(5)  # the table and chart grew, no reload
    shot(page.locator("#content"), "admin-run-running")
    TrainingRun.objects.filter(pk=run.pk).update(status="succeeded", progress=1.0, history=HISTORY, metrics=METRICS,
                                                 result=active_model_version)
    expect(page.locator(".field-result")).to_contain_text(str(active_model_version), timeout=8000)  # reloaded
    expect(page.locator(".field-metrics_shown")).to_contain_text("✓ passed")
