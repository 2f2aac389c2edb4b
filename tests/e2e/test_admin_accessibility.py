"""The admin pages staff review on have no serious or critical accessibility violations (axe-core)."""

import pytest
from playwright.sync_api import Page

from recognizer.review import samples_score
from recognizer.versions import model_version_create

from .axe import severe_violations

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def staff_page(page: Page, live_server, admin_user, make_sample, active_model_version) -> Page:
    make_sample(session_key="a" * 32, label=7)
    make_sample(session_key="b" * 32, label=3)
    model_version_create(network=active_model_version.load_network(), name_prefix="rejected",
                         parent=active_model_version, gate_passed=False, gate_reason="MNIST validation fell")
    samples_score(batch_size=16)   # the review queue and the confusion tables show the scores
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    return page


@pytest.mark.parametrize("path", [
    "/admin/recognizer/sample/", "/admin/recognizer/modelversion/", "/admin/training/trainingrun/",
    "/admin/training/trainingrun/train-shared/", "/admin/recognizer/sample/review/",
    "/admin/recognizer/modelversion/{active}/change/",
])
def test_admin_pages_have_no_serious_accessibility_violations(staff_page: Page, live_server, path,
                                                              active_model_version):
    staff_page.goto(f"{live_server.url}{path.format(active=active_model_version.pk)}")
    assert severe_violations(staff_page) == []


def test_the_rejected_version_confirmation_has_no_serious_accessibility_violations(staff_page: Page, live_server):
    from recognizer.models import ModelVersion

    rejected = ModelVersion.objects.get(gate_passed=False)
    staff_page.goto(f"{live_server.url}/admin/recognizer/modelversion/")
    staff_page.check(f"input[name=_selected_action][value='{rejected.pk}']")
    staff_page.select_option("select[name=action]", "activate")
    staff_page.click("button[name=index]")
    assert "The quality gate rejected" in staff_page.content()
    assert severe_violations(staff_page) == []
