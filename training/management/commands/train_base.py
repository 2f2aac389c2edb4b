from dataclasses import replace
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from tqdm import tqdm

from training.ml.base import add_detector, train_base_model, write_base_model
from training.ml.console import step_bar
from training.ml.detector import DetectorConfig
from training.ml.loop import FitConfig


class Command(BaseCommand):
    help = "Train the base DigitNet from scratch on MNIST (fixed seed) and write its checkpoint and model card."

    def add_arguments(self, parser) -> None:
        defaults = FitConfig()
        parser.add_argument("--epochs", type=int, default=defaults.epochs)
        parser.add_argument("--lr", type=float, default=defaults.learning_rate)
        parser.add_argument("--seed", type=int, default=defaults.seed)
        parser.add_argument("--batch-size", type=int, default=128)
        parser.add_argument("--limit", type=int, default=None, help="train on the first N MNIST images only")
        parser.add_argument("--max-batches", type=int, default=None, help="stop each epoch after N batches")
        parser.add_argument("--output", type=Path, default=settings.BASE_MODEL_CHECKPOINT,
                            help="checkpoint path; the model card is written beside it as <name>.card.json")

    def handle(self, *args, **options) -> None:
        config = FitConfig(epochs=options["epochs"], learning_rate=options["lr"], seed=options["seed"],
                           max_batches=options["max_batches"])
        epochs = tqdm(total=config.epochs, desc="epochs", unit="epoch", position=0)
        batches = tqdm(desc="epoch 1", unit="batch", position=1, leave=False)

        def on_batch(index: int, total: int, loss: float, accuracy: float) -> None:
            if index == 0:
                batches.reset(total=total)
            batches.update()
            batches.set_postfix(loss=f"{loss:.4f}", acc=f"{accuracy:.4f}", refresh=False)

        def on_epoch(record: dict) -> None:
            epochs.update()
            epochs.set_postfix(loss=f"{record['train_loss']:.4f}", acc=f"{record['train_accuracy']:.4f}")
            batches.set_description(f"epoch {record['epoch'] + 1}")

        model, card = train_base_model(settings.MNIST_DATA_DIR, config, batch_size=options["batch_size"],
                                       train_limit=options["limit"], on_batch=on_batch, on_epoch=on_epoch)
        batches.close()
        epochs.close()
        self.stdout.write("Adding the non-digit detector and calibrating confidence…")
        detector_bar, on_detector_step = step_bar("detector")
        card = replace(card, **add_detector(model, settings.MNIST_DATA_DIR, DetectorConfig(seed=config.seed),
                                            progress=on_detector_step))
        detector_bar.close()
        output: Path = options["output"]
        card_path = output.with_name(output.stem + ".card.json")
        write_base_model(model, card, output, card_path)
        self.stdout.write(self.style.SUCCESS(
            f"Test accuracy {card.mnist_test.accuracy:.4%} after {card.training_seconds:.0f} s; "
            f"wrote {output} and {card_path}"
        ))
