"""The typed figures: one name per figure, read and written only through their types, old JSON migrated."""

import importlib

import pytest

from recognizer.ml.figures import (
    Change, HeldOut, ModelCard, NondigitRecall, Rate, RunOutcome, Scores, VersionFigures,
)

typed = importlib.import_module("recognizer.migrations.0009_typed_version_figures").typed

HELD_OUT = HeldOut(count=10, before=0.8, after=0.9, per_digit={"4": {"count": 10, "before": 0.8, "after": 0.9}},
                   not_a_digit=Rate(0.1, 0.0))


@pytest.mark.parametrize("figures", [
    VersionFigures(),
    VersionFigures(mnist_test=Scores(0.9969, 10000, [0.99] * 10, [[1] * 10] * 10, loss=0.01), nondigit_recall=0.96),
    VersionFigures(mnist_validation=Scores(0.9958, 10000), held_out=HELD_OUT, training_run=12),
])
def test_a_versions_figures_come_back_as_they_were_written(figures):
    assert VersionFigures.from_json(figures.to_json()) == figures


def test_a_runs_outcome_comes_back_and_fills_in_as_the_run_goes():
    queued = RunOutcome(left_out={"aaaaaaaa": 3})
    judged = RunOutcome(mnist_validation=Change(0.996, 0.9958, 10000), held_out=HELD_OUT,
                        nondigit_recall=NondigitRecall(30, 0.95, 0.93), trained_on=40, gate="ok", accepted=True,
                        seconds={"load": 0.1, "train": 2.0})
    finished = queued.merged(judged)
    assert RunOutcome.from_json(finished.to_json()) == finished
    assert finished.left_out == {"aaaaaaaa": 3} and finished.trained_on == 40


@pytest.mark.parametrize("read", [VersionFigures.from_json, RunOutcome.from_json])
def test_a_misspelt_figure_is_an_error_not_a_silent_dash(read):
    with pytest.raises(TypeError, match="mnist_acuracy"):
        read({"mnist_acuracy": 0.99})


def test_old_version_metrics_are_migrated_to_one_name_per_figure():
    old = {"mnist_test_accuracy": 0.9969, "per_class_accuracy": [0.99] * 10, "confusion_matrix": [[1] * 10] * 10,
           "mnist_validation_accuracy": 0.9958, "mnist_validation_count": 10000,
           "per_class_validation_accuracy": [0.98] * 10, "validation_confusion_matrix": [[2] * 10] * 10,
           "nondigit_recall": 0.96, "held_out": {"count": 3, "before": 0.5, "after": 1.0, "per_digit": {}},
           "training_run": 7}
    figures = VersionFigures.from_json(typed(old))
    assert figures.mnist_test == Scores(0.9969, 10000, [0.99] * 10, [[1] * 10] * 10)
    assert figures.mnist_validation == Scores(0.9958, 10000, [0.98] * 10, [[2] * 10] * 10)
    assert (figures.nondigit_recall, figures.training_run, figures.held_out.after) == (0.96, 7, 1.0)
    first_rounds = VersionFigures.from_json(typed({"mnist_accuracy": 0.99, "mnist_count": 2000, "user_accuracy": 1}))
    assert first_rounds == VersionFigures(mnist_test=Scores(0.99, 2000))
    assert typed(figures.to_json()) == figures.to_json()  # already typed: left as it is


def test_the_shipped_model_card_reads_through_its_type(settings):
    import json

    card = ModelCard.from_json(json.loads(settings.BASE_MODEL_CARD.read_text()))
    assert ModelCard.from_json(card.to_json()) == card
    assert card.version_figures().mnist_test == card.mnist_test


def test_old_run_metrics_are_migrated_to_the_typed_outcome():
    migrate = importlib.import_module("training.migrations.0005_typed_run_outcome").typed
    first_rounds = {"before": {"mnist_accuracy": 0.99, "mnist_count": 2000, "user_accuracy": 0.5},
                    "after": {"mnist_accuracy": 0.985, "mnist_count": 2000, "user_accuracy": 0.9},
                    "gate": "ok", "accepted": True}
    outcome = RunOutcome.from_json(migrate(first_rounds))
    assert outcome == RunOutcome(mnist_validation=Change(0.99, 0.985, 2000), gate="ok", accepted=True)
    current = RunOutcome(left_out={"aaaaaaaa": 1}, trained_on=3).to_json()
    assert migrate(current) == current
