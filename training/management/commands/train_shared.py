from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from tqdm import tqdm

from recognizer.exceptions import InvalidModelVersion, NoActiveModel
from recognizer.versions import model_version_activate
from training.exceptions import TrainingRefused
from training.models import TrainingRun
from training.execution import training_run_execute
from training.services import training_run_create_shared


class Command(BaseCommand):
    help = ("Fine-tune the shared model on approved samples from every session (no session over "
            "SHARED_MAX_SESSION_SHARE), here and now with a progress bar, or queued for the worker with --enqueue. "
            "A candidate that passes the shared gate stays inactive unless --activate is given.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--enqueue", action="store_true", help="leave the run to the training worker")
        parser.add_argument("--activate", action="store_true", help="activate the candidate if it passes the gate")
        parser.add_argument("--requested-by", default="manage.py train_shared", help="recorded on the run")

    def handle(self, *args, enqueue: bool, activate: bool, requested_by: str, **options) -> None:
        try:
            run = training_run_create_shared(requested_by=requested_by, enqueue=enqueue)
        except (TrainingRefused, NoActiveModel) as exc:
            raise CommandError(str(exc)) from exc
        for session, count in (run.outcome.left_out or {}).items():
            self.stdout.write(f"Left out {count} sample(s) of session {session} (over its share).")
        if enqueue:
            self.stdout.write(self.style.SUCCESS(f"Queued shared training run {run.pk} for the worker."))
            return
        self._run_with_progress(run)
        run.refresh_from_db()
        self.stdout.write(f"Gate: {run.outcome.gate}")
        if run.status != TrainingRun.Status.SUCCEEDED:
            raise CommandError(f"Shared training run {run.pk} {run.status}; the shared model is unchanged.")
        if activate:
            try:
                model_version_activate(version=run.result)
            except InvalidModelVersion as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(self.style.SUCCESS(f"{run.result} is now the active shared model."))
        else:
            self.stdout.write(self.style.SUCCESS(f"Candidate {run.result} passed; activate it in the admin (Model "
                                                 "versions) or run again with --activate."))

    def _run_with_progress(self, run: TrainingRun) -> None:
        import threading

        bar = tqdm(total=100, desc=f"shared run {run.pk}", unit="%")
        done = threading.Event()

        def follow() -> None:  # the run writes its progress to its row; show it as it moves
            while not done.wait(0.5):
                progress = TrainingRun.objects.filter(pk=run.pk).values_list("progress", flat=True).first() or 0
                bar.update(round(progress * 100) - bar.n)
            connection.close()  # this thread's own connection

        watcher = threading.Thread(target=follow, daemon=True)
        watcher.start()
        try:
            training_run_execute(run_id=run.pk)
        except Exception as exc:
            raise CommandError(f"Shared training run {run.pk} failed: {exc}") from exc
        finally:
            done.set()
            watcher.join()
            bar.update(100 - bar.n)
            bar.close()
