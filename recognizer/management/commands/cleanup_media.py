from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from recognizer.services import media_orphans_remove
from recognizer.versions import personal_models_of_ended_sessions_delete, rejected_weights_delete


class Command(BaseCommand):
    help = ("Delete what nothing needs any more: the personal models (and weights) of sessions that have ended "
            "(run `clearsessions` first, or on a schedule), the weights of gate-rejected candidates older than "
            "REJECTED_KEEP_DAYS (their rows and metrics stay), and sample image files no sample refers to.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="list the orphaned files without deleting anything")

    def handle(self, *args, dry_run: bool, **options) -> None:
        if not dry_run:
            with transaction.atomic():
                ended = personal_models_of_ended_sessions_delete()
            for session in ended:
                self.stdout.write(f"removed the personal model(s) of ended session {session}")
            for version in rejected_weights_delete(older_than_days=settings.REJECTED_KEEP_DAYS):
                self.stdout.write(f"removed the weights of rejected candidate {version}")
        orphans = media_orphans_remove(dry_run=dry_run)
        for name in orphans:
            self.stdout.write(f"{'would remove' if dry_run else 'removed'} {name}")
        verb = "Found" if dry_run else "Removed"
        self.stdout.write(self.style.SUCCESS(f"{verb} {len(orphans)} orphaned file(s)."))
