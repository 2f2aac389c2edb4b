"""A run's metrics in the typed form (recognizer/ml/figures.py RunOutcome), which refuses figures it does not know.

Runs of the first rounds kept {"before": {...}, "after": {...}} with "mnist_accuracy" and "mnist_count" in each:
that becomes "mnist_validation" {"before", "after", "count"}. Their "user_accuracy" figures have no place in the
typed form and nothing has shown them since those rounds; they are dropped. The conversion is written out here so
that later changes to the types cannot change what this migration did.
"""

from django.db import migrations

KNOWN = {"left_out", "mnist_validation", "held_out", "nondigit_recall", "trained_on", "gate", "accepted", "seconds"}


def typed(metrics: dict) -> dict:
    result = {key: value for key, value in metrics.items() if key in KNOWN}
    before, after = metrics.get("before"), metrics.get("after")
    if "mnist_validation" not in result and isinstance(before, dict) and isinstance(after, dict):
        if before.get("mnist_accuracy") is not None and after.get("mnist_accuracy") is not None:
            result["mnist_validation"] = {"before": before["mnist_accuracy"], "after": after["mnist_accuracy"],
                                          "count": after.get("mnist_count") or before.get("mnist_count") or 0}
    return result


def forwards(apps, schema_editor):
    TrainingRun = apps.get_model("training", "TrainingRun")
    for run in TrainingRun.objects.all().only("pk", "metrics").iterator():
        new = typed(run.metrics or {})
        if new != run.metrics:
            TrainingRun.objects.filter(pk=run.pk).update(metrics=new)


class Migration(migrations.Migration):
    dependencies = [("training", "0004_run_priority")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
