"""Start-up under gunicorn with the production config when the active model's weights are broken."""

import pytest

from tests.test_deploy import gunicorn, manage, predict, production_env

pytestmark = pytest.mark.slow

# A second version (a copy of the base) becomes active; then its file is damaged while the site is down.
BREAK_THE_ACTIVE_VERSION = """
import shutil
from django.conf import settings
from recognizer.models import ModelVersion
from recognizer.versions import model_version_activate
base = ModelVersion.objects.get()
shutil.copyfile(base.weights_path, settings.MODEL_DIR / "second.pt")
second = ModelVersion.objects.create(weights_name="second.pt", weights_sha256=base.weights_sha256,
                                     architecture=base.architecture, notes="second")
model_version_activate(version=second)
second.weights_path.write_bytes(b"damaged while the site was down")
"""


def test_a_worker_starting_with_broken_active_weights_serves_the_newest_loadable_version(tmp_path):
    env = production_env(tmp_path)
    for command in (["migrate", "--noinput"], ["shell", "-c", BREAK_THE_ACTIVE_VERSION]):
        result = manage(*command, env=env)
        assert result.returncode == 0, result.stderr
    log = tmp_path / "gunicorn.log"
    with gunicorn(env, "--workers", "1", log=log) as base:
        status, _, answer = predict(base)
    output = log.read_text()
    # Reported at start-up, before any request: post_worker_init loads the model.
    assert "Cannot load model v2 (second): weights file second.pt has changed" in output
    assert "Serving v1 (shipped base model), the newest loadable version, instead of the active v2" in output
    assert output.index("Serving v1") < output.index("Web worker ready with model v1")
    assert status == 200 and answer["model_version"] == 1 and answer["digit"] == 7
