"""A version's metrics in the typed form (recognizer/ml/figures.py VersionFigures): one name per figure.

Before, MNIST test accuracy was stored as "mnist_test_accuracy" (and, in the first rounds, "mnist_accuracy"), its
per-digit accuracy as "per_class_accuracy" and so on, flat. Now each set of images has one Scores record:
{"mnist_test": {"accuracy", "count", "per_digit", "confusion"}, "mnist_validation": {...}, ...}. The conversion is
written out here, not imported, so that later changes to the types cannot change what this migration did. Figures
that have no place in the typed form (the first rounds' "user_accuracy", "user_count") are dropped: nothing showed
them since those rounds.
"""

from django.db import migrations

SETS = {
    "mnist_test": {"accuracy": ["mnist_test_accuracy", "mnist_accuracy"], "count": ["mnist_test_count", "mnist_count"],
                   "per_digit": ["per_class_accuracy"], "confusion": ["confusion_matrix"]},
    "mnist_validation": {"accuracy": ["mnist_validation_accuracy"], "count": ["mnist_validation_count"],
                         "per_digit": ["per_class_validation_accuracy"], "confusion": ["validation_confusion_matrix"]},
}
KEPT = ("nondigit_recall", "held_out", "training_run")
# MNIST's test set, and the validation part of its training set (images 50 000 to 59 999): the counts of versions
# whose metrics gave an accuracy but no count.
FULL_COUNT = {"mnist_test": 10_000, "mnist_validation": 10_000}


def typed(metrics: dict) -> dict:
    if "mnist_test" in metrics or "mnist_validation" in metrics:
        return metrics  # already typed
    result = {key: metrics[key] for key in KEPT if metrics.get(key) is not None}
    for name, figures in SETS.items():
        scores = {}
        for figure, old_keys in figures.items():
            value = next((metrics[key] for key in old_keys if metrics.get(key) is not None), None)
            if value is not None:
                scores[figure] = value
        if scores.get("accuracy") is not None:
            scores.setdefault("count", FULL_COUNT[name])
            result[name] = scores
    held_out = result.get("held_out")
    if isinstance(held_out, dict):
        result["held_out"] = {"count": held_out.get("count", 0), "before": held_out.get("before"),
                              "after": held_out.get("after"), "per_digit": held_out.get("per_digit") or {},
                              "not_a_digit": held_out.get("not_a_digit") or {}}
    return result


def forwards(apps, schema_editor):
    ModelVersion = apps.get_model("recognizer", "ModelVersion")
    for version in ModelVersion.objects.all().only("pk", "metrics").iterator():
        new = typed(version.metrics or {})
        if new != version.metrics:
            ModelVersion.objects.filter(pk=version.pk).update(metrics=new)


class Migration(migrations.Migration):
    dependencies = [("recognizer", "0008_modelversion_number")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
