"""Settings for mnistsite, read from the environment with safe local defaults (12-factor).

Every variable is listed in the README. Typed helpers fail loudly on a value they cannot read.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    return os.getenv(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.getenv(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def _env_number(name: str, default, convert, kind: str):
    value = os.getenv(name)
    if value is None or value == "":
        return default
    try:
        return convert(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be {kind}, not {value!r}") from None


def env_int(name: str, default: int) -> int:
    return _env_number(name, default, int, "a whole number")


def env_float(name: str, default: float) -> float:
    return _env_number(name, default, float, "a number")


def env_budget(name: str, default: str):
    from recognizer.ratelimit import Budget  # plain code: importing it loads no Django models

    return _env_number(name, Budget.parse(default), Budget.parse, 'a budget such as "300/30" (requests/seconds)')


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.getenv(name, default).split(",") if item.strip()]


def env_path(name: str, default: Path) -> Path:
    value = os.getenv(name)
    return Path(value).resolve() if value else default


def _local_secret_key() -> str:
    """A random key kept in a git-ignored file, so sessions survive restarts without a committed secret."""
    key_file = BASE_DIR / ".secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = os.getenv("DJANGO_SECRET_KEY") or _local_secret_key()
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "recognizer",
    "training",
]

MIDDLEWARE = [
    "recognizer.middleware.RequestBodyMiddleware",  # first: nothing may read a body before it is bounded
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "recognizer.middleware.ContentSecurityPolicyMiddleware",
    "recognizer.middleware.DatabaseBusyMiddleware",
]

ROOT_URLCONF = "mnistsite.urls"
WSGI_APPLICATION = "mnistsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.getenv("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 600),
        conn_health_checks=True,
    )
}
# How long a request waits for another process's lock before giving up with a 503 (DatabaseBusyMiddleware).
DATABASE_LOCK_TIMEOUT = env_float("DATABASE_LOCK_TIMEOUT", 20.0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web workers and the training worker share one file: wait for a lock instead of failing at once, take
    # the write lock when a transaction begins (no deadlocks upgrading a read lock), and let readers go on
    # while one process writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": DATABASE_LOCK_TIMEOUT, "transaction_mode": "IMMEDIATE",
         "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = f"-c lock_timeout={int(DATABASE_LOCK_TIMEOUT * 1000)}"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Machine-learning files: the fetched MNIST IDX files and the weights of every model version.
MNIST_DATA_DIR = env_path("MNIST_DATA_DIR", BASE_DIR / "data")
MODEL_DIR = env_path("MODEL_DIR", BASE_DIR / "var" / "models")
# With weights in object storage, each process keeps the versions it serves here, at most this many bytes.
WEIGHTS_CACHE_DIR = env_path("WEIGHTS_CACHE_DIR", BASE_DIR / "var" / "weights-cache")
WEIGHTS_CACHE_BYTES = env_int("WEIGHTS_CACHE_BYTES", 512 * 1024 * 1024)

STATIC_URL = "static/"
STATIC_ROOT = env_path("STATIC_ROOT", BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    # Samples' files, written through the storage API: MEDIA_ROOT on one machine (S3: STORAGE_S3_BUCKET below).
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    # Every model version's weights (recognizer/weights.py): MODEL_DIR on one machine.
    "models": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(MODEL_DIR)}},
}
# Several hosts: samples' files and model weights in one S3-compatible bucket (credentials from the usual AWS_*
# variables), under media/ and models/. The site serves media itself (recognizer/storage.py says why).
STORAGE_S3_BUCKET = env_str("STORAGE_S3_BUCKET", "")


def s3_storages(bucket: str, *, endpoint_url: str | None = None, region: str | None = None, timeout: int = 5,
                **credentials: str) -> dict:
    """STORAGES' media and models entries in an S3-compatible bucket (django-storages), with bounded waits so an
    unreachable store is a quick 503, not a hung request. Without ``credentials``, boto3 reads AWS_*."""
    from botocore.config import Config

    options = {"bucket_name": bucket, "endpoint_url": endpoint_url, "region_name": region, "default_acl": "private",
               "client_config": Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 2}),
               **credentials}
    return {
        "default": {"BACKEND": "recognizer.storage.SiteServedS3Storage", "OPTIONS": {**options, "location": "media"}},
        "models": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {**options, "location": "models"}},
    }


if STORAGE_S3_BUCKET:
    STORAGES |= s3_storages(STORAGE_S3_BUCKET, endpoint_url=env_str("STORAGE_S3_ENDPOINT_URL", "") or None,
                            region=env_str("STORAGE_S3_REGION", "") or None, timeout=env_int("STORAGE_S3_TIMEOUT", 5))
MEDIA_URL = "media/"
MEDIA_ROOT = env_path("MEDIA_ROOT", BASE_DIR / "media")

BASE_MODEL_CHECKPOINT = BASE_DIR / "recognizer" / "weights" / "base.pt"
BASE_MODEL_CARD = BASE_DIR / "recognizer" / "weights" / "base.card.json"

# Upload limits: bodies over this many bytes get a 413; images over this many pixels are refused unread.
MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_BYTES", 5 * 1024 * 1024)
MAX_IMAGE_PIXELS = env_int("MAX_IMAGE_PIXELS", 4096 * 4096)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_UPLOAD_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = MAX_UPLOAD_BYTES
# An upload that stops arriving for this many seconds gets a 408 and frees its server thread (RequestBodyMiddleware).
REQUEST_BODY_TIMEOUT = env_float("REQUEST_BODY_TIMEOUT", 10.0)
# Samples one browser session may keep (429 above), and all sessions of one client network (an IPv4 address or
# an IPv6 /64) in a day: dropping the cookie makes a new session, not a new budget. A classroom behind one NAT
# address saves a few hundred a day.
MAX_SAMPLES_PER_SESSION = env_int("MAX_SAMPLES_PER_SESSION", 1000)
MAX_SAMPLES_PER_NETWORK_PER_DAY = env_int("MAX_SAMPLES_PER_NETWORK_PER_DAY", 2000)
# Unreviewed samples the whole site holds before it refuses new ones (503) until staff review or delete some.
MAX_UNREVIEWED_SAMPLES = env_int("MAX_UNREVIEWED_SAMPLES", 100_000)
# A browser session lives this long after its last use (its samples and personal model with it).
SESSION_COOKIE_AGE = env_int("SESSION_DAYS", 14) * 24 * 3600
SESSION_ENGINE = "recognizer.sessions"  # Django's database sessions, read with one plain query (recognizer/sessions.py)
# Review by suspicion (recognizer/review.py): samples scored per forward pass, and the seconds between a save and
# the worker's scoring of it (every sample saved meanwhile is scored with it).
SCORE_BATCH = env_int("SCORE_BATCH", 256)
SCORE_DELAY_SECONDS = env_float("SCORE_DELAY_SECONDS", 5.0)
# Serve MEDIA_URL from MEDIA_ROOT through Django (file names are unguessable); turn off when a web server or
# object storage serves the media instead.
SERVE_MEDIA = env_bool("SERVE_MEDIA", True)
# Requests one client address may make: "requests/seconds" (429 with Retry-After beyond). Live prediction
# while drawing sends at most 5 a second. Behind a reverse proxy set NUM_PROXIES so the client's address is
# read from X-Forwarded-For. Counts are kept in RATE_LIMIT_STORE, shared by every web process.
RATE_LIMIT_ENABLED = env_bool("RATE_LIMIT_ENABLED", True)
RATE_LIMITS = {
    "predict": env_budget("RATE_LIMIT_PREDICT", "1200/60"),
    "samples": env_budget("RATE_LIMIT_SAMPLES", "120/60"),
    "train": env_budget("RATE_LIMIT_TRAIN", "20/3600"),
    "reads": env_budget("RATE_LIMIT_READS", "600/60"),  # every GET of the API: sample lists, progress polls
    "login": env_budget("RATE_LIMIT_LOGIN", "10/60"),  # failed admin sign-ins per address and per username
}
RATE_LIMIT_STORE = env_path("RATE_LIMIT_STORE", BASE_DIR / "var" / "ratelimit.sqlite3")
NUM_PROXIES = env_int("NUM_PROXIES", 0)
# Threads each web process gives one prediction; one thread a request keeps many requests in parallel.
INFERENCE_THREADS = env_int("INFERENCE_THREADS", 1)

TASKS = {
    "default": {
        "BACKEND": env_str("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}

CSRF_FAILURE_VIEW = "recognizer.http.csrf_failure"
# Fine-tuning (training/ml/adapt.py AdaptConfig) and its quality gates.
FINE_TUNE = {"epochs": env_int("FINE_TUNE_EPOCHS", 8), "replay": env_int("FINE_TUNE_REPLAY", 4000)}
# MNIST validation images (MNIST train's last 10 000, which no model trains on) the gates evaluate on.
FINE_TUNE_VALIDATION_LIMIT = env_int("FINE_TUNE_VALIDATION_LIMIT", 10000)
# Held-out non-digits per family (training.ml.nondigits) the fine-tune gate checks the detector on, drawn when a worker
# first needs them (about 9 ms each).
GATE_NONDIGITS_PER_FAMILY = env_int("GATE_NONDIGITS_PER_FAMILY", 10)
# Non-digits per family, of the detector's own training drawings, a fine-tune's detector keeps learning "no digit"
# from while it learns the person's drawings as digits (training.ml.adapt.adapt_detector); drawn once per worker too.
FINE_TUNE_NONDIGITS_PER_FAMILY = env_int("FINE_TUNE_NONDIGITS_PER_FAMILY", 10)
FINE_TUNE_MAX_MNIST_DROP = env_float("FINE_TUNE_MAX_MNIST_DROP", 0.005)  # personal gate: at most 0.5 points
SHARED_MAX_MNIST_DROP = env_float("SHARED_MAX_MNIST_DROP", 0.003)        # shared gate: overall, 0.3 points
SHARED_MAX_CLASS_DROP = env_float("SHARED_MAX_CLASS_DROP", 0.01)         # and no digit by more than 1 point
SHARED_MAX_SESSION_SHARE = env_float("SHARED_MAX_SESSION_SHARE", 0.25)   # of a shared run's samples, per session
# Approved samples a shared run needs (0: no minimum), some digit among them 5 times so that the gate has held-out
# drawings to judge it on: any 50 include 5 of some digit.
SHARED_MIN_SAMPLES = env_int("SHARED_MIN_SAMPLES", 50)
HOLDOUT_FRACTION = env_float("HOLDOUT_FRACTION", 0.2)  # of each digit's drawings, kept out to measure a run honestly
TRAINING_DEVICE = env_str("TRAINING_DEVICE", "auto")
if TRAINING_DEVICE not in {"auto", "cpu", "cuda"}:
    raise ImproperlyConfigured(f"TRAINING_DEVICE must be auto, cpu or cuda, not {TRAINING_DEVICE!r}")
TRAINING_STALE_SECONDS = env_int("TRAINING_STALE_SECONDS", 60)  # a running job silent this long has died
# A worker starting up fails runs silent this long: a live worker beats at least every few seconds.
TRAINING_RESTART_STALE_SECONDS = env_int("TRAINING_RESTART_STALE_SECONDS", 15)
# Personal runs queued or running at once from one client network (an IPv4 address or an IPv6 /64), whatever its
# sessions: 429 with Retry-After beyond. Each session has at most one.
TRAINING_OPEN_RUNS_PER_NETWORK = env_int("TRAINING_OPEN_RUNS_PER_NETWORK", 3)
# Housekeeping (training/housekeeping.py), which each training worker queues for itself when it starts and then
# every HOUSEKEEPING_SECONDS: finished training runs and the task queue's finished rows are deleted after
# TRAINING_RUNS_KEEP_DAYS (runs that made a model still in use stay).
HOUSEKEEPING_SECONDS = env_int("HOUSEKEEPING_SECONDS", 3600)
TRAINING_RUNS_KEEP_DAYS = env_int("TRAINING_RUNS_KEEP_DAYS", 30)
# Personal models: how many versions a session keeps (older ones are deleted with their files), and the memory each
# web process gives loaded networks (least recently used dropped first). A personal model adds 0.1 MB (its parent's
# trunk is shared), a full network 2.5 MB: 256 MB keeps about 2 500 personal models loaded.
PERSONAL_MODELS_PER_SESSION = env_int("PERSONAL_MODELS_PER_SESSION", 2)
MODEL_CACHE_MB = env_int("MODEL_CACHE_MB", 256)
# Weights of gate-rejected candidates are deleted this many days after (cleanup_media); their metrics stay.
REJECTED_KEEP_DAYS = env_int("REJECTED_KEEP_DAYS", 7)
# Samples of ended sessions (recognizer/retention.py): unreviewed and rejected ones are deleted with their files this
# many days after they were saved; approved ones stay, detached from the session.
ANONYMOUS_SAMPLES_KEEP_DAYS = env_int("ANONYMOUS_SAMPLES_KEEP_DAYS", 30)
# Sample files no sample refers to are deleted only once they are this old: a sample's files are stored just before
# its row is committed, so a file being saved looks orphaned for a moment.
CLEANUP_GRACE_SECONDS = env_int("CLEANUP_GRACE_SECONDS", 3600)

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# The page runs no inline script or style; data: images are the 28x28 previews the API returns.
CONTENT_SECURITY_POLICY = env_str(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
)
# A TLS-terminating proxy sets these; turn them on with the env variables when it does.
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0)
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
