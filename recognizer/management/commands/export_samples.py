from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from recognizer.models import Sample
from recognizer.services import samples_export_zip


class Command(BaseCommand):
    help = "Export samples as a zip of 28x28 MNIST-form PNGs, the original drawings and labels.csv."

    def add_arguments(self, parser) -> None:
        parser.add_argument("output", type=Path, help="the zip file to write")
        parser.add_argument("--status", choices=Sample.Status.values, help="only samples with this review status")
        parser.add_argument("--label", type=int, choices=range(10), help="only samples with this label")

    def handle(self, *args, output: Path, status: str | None, label: int | None, **options) -> None:
        samples = Sample.objects.all()
        if status:
            samples = samples.filter(status=status)
        if label is not None:
            samples = samples.filter(label=label)
        try:
            with open(output, "wb") as destination:
                count = samples_export_zip(samples, destination)
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"Exported {count} samples to {output}"))
