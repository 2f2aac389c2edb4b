from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from training.ml.mnist_files import MnistFetchError, fetch_mnist


class Command(BaseCommand):
    help = "Put the four MNIST IDX files, verified by SHA-256, under $MNIST_DATA_DIR/MNIST/raw/."

    def handle(self, *args, **options) -> None:
        try:
            fetch_mnist(settings.MNIST_DATA_DIR, log=self.stdout.write)
        except MnistFetchError as exc:
            raise CommandError(str(exc)) from exc
