import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.crypto import get_random_string
from django_tasks_db.compat import DEFAULT_TASK_BACKEND_ALIAS, DEFAULT_TASK_QUEUE_NAME
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand, Worker

from training.candidate import warm_up
from training.tasks import housekeeping_schedule
from training.execution import worker_stopping
from training.services import training_runs_fail_stale


class StoppableWorker(Worker):
    """django-tasks-db's worker, whose first Ctrl-C (or SIGTERM) also stops the training run in hand at its next
    progress step, marked interrupted, instead of waiting for it to end: a shutdown takes a second or two. A second
    signal a few seconds later force-quits, as db_worker's does."""

    REPEAT_SECONDS = 3.0
    stop_asked = 0.0

    def shutdown(self, signum, frame) -> None:
        if worker_stopping.is_set() and time.monotonic() - self.stop_asked < self.REPEAT_SECONDS:
            return  # the same stop, sent twice (to the process group and by a supervisor): not a force-quit
        if not worker_stopping.is_set():
            worker_stopping.set()
            self.stop_asked = time.monotonic()
        super().shutdown(signum, frame)


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
        DbWorkerCommand(stdout=self.stdout).configure_logging(options["verbosity"])  # as db_worker logs, whatever LOG_LEVEL
        worker = StoppableWorker(queue_names=[DEFAULT_TASK_QUEUE_NAME], interval=interval, batch=batch,
                                 backend_name=DEFAULT_TASK_BACKEND_ALIAS, startup_delay=False, max_tasks=None,
                                 worker_id=get_random_string(32), excluded_queue_names=[])
        worker.configure_signals()
        worker.run()
