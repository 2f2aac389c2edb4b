"""Fixtures shared by every app's tests."""

import os
from pathlib import Path

import pytest
import torch
from django.conf import settings

from recognizer.ml.checkpoints import save_checkpoint
from recognizer.ml.network import DigitNet

# Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls there unless told
# it is safe (microsoft/playwright-pytest issue #29).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium: Playwright cannot download its own browser on this machine."""
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"],
    }


@pytest.fixture
def mnist_dir() -> Path:
    return settings.MNIST_DATA_DIR


@pytest.fixture
def tiny_checkpoint(tmp_path) -> Path:
    """A randomly initialised DigitNet saved under tmp_path."""
    torch.manual_seed(1)
    path = tmp_path / "tiny.pt"
    save_checkpoint(DigitNet(), path, metadata={"note": "random weights"})
    return path


@pytest.fixture
def active_model_version(db):
    """The shipped base model, registered by migrate as the first active version."""
    from recognizer.models import ModelVersion

    return ModelVersion.objects.get(is_active=True)
