import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from recognizer.ml.checkpoints import CheckpointError, load_checkpoint
from recognizer.models import ModelVersion
from recognizer.versions import active_version
from training.ml.data import loader, mnist_dataset
from training.ml.loop import evaluate


class Command(BaseCommand):
    help = "Evaluate the active model version (or --model-version N) on the full MNIST test set."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
        parser.add_argument("--model-version", type=int, default=None, help="a model version id instead of the active one")

    def handle(self, *args, **options) -> None:
        chosen = options["model_version"]
        version = ModelVersion.objects.filter(pk=chosen).first() if chosen else active_version()
        if version is None:
            raise CommandError("No such model version." if options["model_version"] else "No model version is active.")
        try:
            model, _ = load_checkpoint(version.weights_path)
        except CheckpointError as exc:
            raise CommandError(str(exc)) from exc
        scores = evaluate(model, loader(mnist_dataset(settings.MNIST_DATA_DIR, train=False), batch_size=1000,
                                        shuffle=False))
        if options["json"]:
            self.stdout.write(json.dumps({**scores.to_json(), "model_version": version.pk}))
            return
        self.stdout.write(f"Model {version}: accuracy {scores.accuracy:.4%} on {scores.count} MNIST test images")
        self.stdout.write("Per digit: " + "  ".join(f"{d}:{a:.2%}" for d, a in enumerate(scores.per_digit)))
        self.stdout.write("Confusion matrix (rows: true digit, columns: predicted):")
        self.stdout.write("      " + "".join(f"{d:>6}" for d in range(10)))
        for digit, row in enumerate(scores.confusion):
            self.stdout.write(f"{digit:>6}" + "".join(f"{n:>6}" for n in row))
