"""Test settings: the real settings with throwaway media and model folders and fast password hashing."""

import tempfile
from pathlib import Path

from .settings import *  # noqa: F403

_scratch = Path(tempfile.mkdtemp(prefix="mnistsite-test-"))
MEDIA_ROOT = _scratch / "media"
MODEL_DIR = _scratch / "models"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
STATIC_ROOT = _scratch / "static"
STATIC_ROOT.mkdir()
WHITENOISE_USE_FINDERS = True  # serve static files straight from the source folders, no collectstatic
WHITENOISE_AUTOREFRESH = True
