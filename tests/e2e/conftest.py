import pytest
from playwright.sync_api import Page

from .helpers import open_page_with_samples


@pytest.fixture
def samples_page(page: Page, live_server, active_model_version) -> Page:
    """The drawing page of a fresh session, with its (empty) samples and training status loaded."""
    return open_page_with_samples(page, live_server.url)


@pytest.fixture
def quick_training(settings):
    """Small runs: 2 epochs, 1000 MNIST images replayed, 1000 for the gate. These reach a worker process in the
    run's params, stored when the page starts the run; its replay and validation sizes come from
    tests.test_worker.worker_environment()."""
    settings.FINE_TUNE = {"epochs": 2, "replay": 1000}
    settings.FINE_TUNE_VALIDATION_LIMIT = 1000
