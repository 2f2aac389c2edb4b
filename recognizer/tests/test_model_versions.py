import json

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import IntegrityError, transaction

from recognizer.exceptions import InvalidModelVersion
from recognizer.ml.checkpoints import file_sha256
from recognizer.models import ModelVersion
from recognizer.versions import model_version_activate
from recognizer.ml.figures import ModelCard


@pytest.fixture
def second_version(tiny_checkpoint, active_model_version, store_version):
    return store_version("second.pt", tiny_checkpoint, parent=active_model_version)


def test_the_shipped_base_is_the_first_active_version_after_migrate(active_model_version):
    assert ModelVersion.objects.count() == 1
    assert active_model_version.notes == "shipped base model"
    assert active_model_version.parent is None
    assert active_model_version.weights_path.parent == settings.MODEL_DIR
    assert file_sha256(active_model_version.weights_path) == file_sha256(settings.BASE_MODEL_CHECKPOINT)
    assert active_model_version.figures.mnist_test.accuracy >= 0.995


def test_the_database_allows_only_one_active_version(second_version):
    second_version.is_active = True
    with pytest.raises(IntegrityError), transaction.atomic():
        second_version.save()


def test_activating_a_version_deactivates_the_previous_one(second_version, active_model_version):
    model_version_activate(version=second_version)
    active_model_version.refresh_from_db()
    assert list(ModelVersion.objects.filter(is_active=True)) == [second_version]
    assert active_model_version.is_active is False


def test_a_version_with_missing_weights_cannot_be_activated(second_version, active_model_version):
    second_version.weights_path.unlink()
    with pytest.raises(InvalidModelVersion, match="missing"):
        model_version_activate(version=second_version)
    assert ModelVersion.objects.get(is_active=True) == active_model_version


def test_a_version_with_altered_weights_cannot_be_activated(second_version, active_model_version):
    second_version.weights_path.write_bytes(b"garbage")
    with pytest.raises(InvalidModelVersion, match="checksum"):
        model_version_activate(version=second_version)
    assert ModelVersion.objects.get(is_active=True) == active_model_version


@pytest.mark.slow
def test_the_shipped_model_scores_at_least_99_5_percent_on_the_mnist_test_set(active_model_version, capsys):
    call_command("evaluate", "--json")
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["count"] == 10000
    assert metrics["model_version"] == active_model_version.pk
    assert metrics["accuracy"] >= 0.995
    assert len(metrics["per_digit"]) == 10 and len(metrics["confusion"]) == 10


def test_the_shipped_model_card_describes_the_checkpoint():
    card = ModelCard.from_json(json.loads(settings.BASE_MODEL_CARD.read_text()))  # every figure a known one
    assert card.checkpoint_sha256 == file_sha256(settings.BASE_MODEL_CHECKPOINT)
    assert card.mnist_test.accuracy >= 0.995 and card.mnist_test.count == 10_000
    assert len(card.mnist_test.per_digit) == 10 and len(card.mnist_test.confusion) == 10
    assert card.mnist_validation.accuracy >= 0.99 and card.detector and card.calibration
    assert card.data_sha256 and card.library_versions and card.training_seconds > 0


@pytest.mark.django_db(transaction=True)
def test_simultaneous_activations_leave_exactly_one_version_active(active_model_version, second_version,
                                                                    run_at_once):
    errors = []

    def activate(version: ModelVersion) -> None:
        try:
            model_version_activate(version=version)
        except Exception as exc:  # noqa: BLE001 - any failure is the test's finding
            errors.append(exc)

    run_at_once(activate, [(v,) for v in [active_model_version, second_version] * 3])
    assert errors == []
    assert ModelVersion.objects.filter(is_active=True).count() == 1


def test_migrate_registers_a_new_shipped_base_beside_the_versions_a_site_already_has(
        active_model_version, settings, tmp_path, tiny_checkpoint):
    # An upgrade that ships a new base model: staff see it as a version and choose when to activate it.
    settings.BASE_MODEL_CHECKPOINT, settings.BASE_MODEL_CARD = tiny_checkpoint, tmp_path / "no-card.json"
    call_command("migrate", verbosity=0)
    call_command("migrate", verbosity=0)  # and only once
    new = ModelVersion.objects.get(weights_sha256=file_sha256(tiny_checkpoint))
    assert (new.is_active, new.activated, new.notes) == (False, None, "shipped base model")
    assert new.architecture == "DigitNet-v2" and new.load_network().architecture == "DigitNet-v2"
    assert ModelVersion.objects.get(is_active=True) == active_model_version
