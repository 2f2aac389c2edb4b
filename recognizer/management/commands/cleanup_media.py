from django.core.management.base import BaseCommand

from recognizer.retention import stored_data_clean
from recognizer.services import media_orphans_remove


class Command(BaseCommand):
    help = ("Delete what nothing needs any more, now (the training worker also does it every HOUSEKEEPING_SECONDS): "
            "expired sessions; the personal models (and weights) of ended sessions; their unreviewed and rejected "
            "samples older than ANONYMOUS_SAMPLES_KEEP_DAYS (approved ones are kept, detached from the session); the "
            "weights of gate-rejected candidates older than REJECTED_KEEP_DAYS (their rows and metrics stay); and "
            "sample image files no sample refers to, once older than CLEANUP_GRACE_SECONDS.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="list the orphaned files without deleting anything")

    def handle(self, *args, dry_run: bool, **options) -> None:
        if dry_run:
            orphans = media_orphans_remove(dry_run=True)
        else:
            cleanup = stored_data_clean()
            for session in cleanup.ended_sessions:
                self.stdout.write(f"removed the personal model(s) of ended session {session}")
            for version in cleanup.rejected_weights:
                self.stdout.write(f"removed the weights of rejected candidate {version}")
            self.stdout.write(f"deleted {cleanup.samples_deleted} unreviewed or rejected sample(s) of ended sessions; "
                              f"detached {cleanup.samples_detached} approved one(s) from them")
            orphans = cleanup.orphans
        for name in orphans:
            self.stdout.write(f"{'would remove' if dry_run else 'removed'} {name}")
        verb = "Found" if dry_run else "Removed"
        self.stdout.write(self.style.SUCCESS(f"{verb} {len(orphans)} orphaned file(s)."))
