import pytest
from playwright.sync_api import Page

from .helpers import open_page_with_samples


@pytest.fixture
def samples_page(page: Page, live_server, active_model_version) -> Page:
    """The drawing page of a fresh session, with its (empty) samples and training status loaded."""
    return open_page_with_samples(page, live_server.url)
