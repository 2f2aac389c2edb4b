"""WSGI entry point: ``gunicorn mnistsite.wsgi:application``."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mnistsite.settings")
application = get_wsgi_application()

from recognizer.inference import configure_for_web  # noqa: E402  (needs the app registry loaded above)

configure_for_web()
