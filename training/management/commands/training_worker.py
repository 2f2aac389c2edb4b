from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from training.candidate import warm_up
from training.housekeeping import housekeeping_schedule
from training.services import training_runs_fail_stale


class Command(BaseCommand):
    help = ("Run the background worker for training jobs (django-tasks-db's db_worker), first failing any run "
            "whose worker died mid-run and queueing housekeeping, which then comes back every HOUSEKEEPING_SECONDS.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch", action="store_true", help="exit when the queue is empty")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls of the queue")

    def handle(self, *args, batch: bool, interval: float, **options) -> None:
        failed = training_runs_fail_stale(stale_after=settings.TRAINING_RESTART_STALE_SECONDS)
        if failed:
            self.stdout.write(self.style.WARNING(f"Marked {failed} interrupted training run(s) as failed."))
        housekeeping_schedule(delay=0)  # now: at the staff's priority, before any visitor's run waiting
        try:
            warm_up()
        except Exception as exc:  # a broken active version fails its runs with the reason, not the worker
            self.stdout.write(self.style.WARNING(f"Could not prepare the active model's MNIST features: {exc}"))
        call_command("db_worker", interval=interval, batch=batch, verbosity=options["verbosity"])
