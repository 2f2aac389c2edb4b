"""Test settings: the real settings with throwaway media and model folders and fast password hashing."""

import atexit
import shutil
import tempfile
from pathlib import Path

from .settings import *  # noqa: F403

_scratch = Path(tempfile.mkdtemp(prefix="mnistsite-test-"))
atexit.register(shutil.rmtree, _scratch, ignore_errors=True)  # every run's media, models and database
MEDIA_ROOT = _scratch / "media"
MODEL_DIR = _scratch / "models"
# A file, not memory, when SQLite: the real worker process in tests/test_worker.py must see the same database.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(_scratch / "test.sqlite3")}  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},  # noqa: F405
            "models": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(MODEL_DIR)}}}
WEIGHTS_CACHE_DIR = _scratch / "weights-cache"
STATIC_ROOT = _scratch / "static"
STATIC_ROOT.mkdir()
WHITENOISE_USE_FINDERS = True  # serve static files straight from the source folders, no collectstatic
WHITENOISE_AUTOREFRESH = True
# Most tests send many requests from one address; tests/…/test_ratelimit.py turns the budgets back on.
RATE_LIMIT_ENABLED = False
RATE_LIMIT_STORE = _scratch / "ratelimit.sqlite3"
# Most tests start shared runs on a few samples; training/tests/test_shared_training.py sets the minimum back.
SHARED_MIN_SAMPLES = 0
# The fine-tune gate's held-out non-digits: one of each family (under a second to draw) rather than ten.
GATE_NONDIGITS_PER_FAMILY = 1
FINE_TUNE_NONDIGITS_PER_FAMILY = 1  # and one of each for the fine-tune's detector to learn from
