import json
from dataclasses import replace
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from recognizer.ml.checkpoints import CheckpointError, load_checkpoint
from recognizer.ml.figures import ModelCard
from training.ml.base import add_detector, write_base_model
from training.ml.console import step_bar
from training.ml.detector import DetectorConfig


class Command(BaseCommand):
    help = ("Give the base checkpoint a non-digit detector and a calibrated confidence (its convolutional features "
            "and every best guess stay as they are), and rewrite it and its model card.")

    def add_arguments(self, parser) -> None:
        defaults = DetectorConfig()
        parser.add_argument("--epochs", type=int, default=defaults.epochs)
        parser.add_argument("--refuse-at-most", type=float, default=defaults.refuse_at_most,
                            help="share of MNIST validation digits the detector may call no digit")
        parser.add_argument("--checkpoint", type=Path, default=settings.BASE_MODEL_CHECKPOINT)
        parser.add_argument("--output", type=Path, default=None, help="where to write (default: --checkpoint)")

    def handle(self, *args, **options) -> None:
        source: Path = options["checkpoint"]
        try:
            model, metadata = load_checkpoint(source)
        except CheckpointError as exc:
            raise CommandError(str(exc)) from exc
        card_path = source.with_name(source.stem + ".card.json")
        if not card_path.exists():
            raise CommandError(f"No model card beside {source} (expected {card_path}): train_base writes one.")
        card = ModelCard.from_json(json.loads(card_path.read_text()))
        config = DetectorConfig(epochs=options["epochs"], refuse_at_most=options["refuse_at_most"])
        bar, progress = step_bar("detector")
        self.stdout.write("Drawing non-digits and training the detector…")
        card = replace(card, **add_detector(model, settings.MNIST_DATA_DIR, config, progress=progress))
        bar.close()
        output: Path = options["output"] or source
        write_base_model(model, card, output, output.with_name(output.stem + ".card.json"))
        detector = card.detector
        self.stdout.write(self.style.SUCCESS(
            f"Non-digits recognised: {detector['validation_nondigit_recall']:.1%} (unseen families "
            f"{detector['unseen_family_recall']:.1%}; a confidence threshold: "
            f"{detector['confidence_baseline']['nondigit_recall']:.1%}); MNIST validation digits refused "
            f"{detector['validation_digits_refused']:.2%}; temperature {card.calibration['temperature']:.3f}. "
            f"Wrote {output}."
        ))
