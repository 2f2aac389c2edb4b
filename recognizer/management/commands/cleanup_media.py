from django.core.management.base import BaseCommand

from recognizer.services import media_orphans_remove


class Command(BaseCommand):
    help = "Delete sample image files that no sample refers to any more, and list them."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="list the orphans without deleting them")

    def handle(self, *args, dry_run: bool, **options) -> None:
        orphans = media_orphans_remove(dry_run=dry_run)
        for name in orphans:
            self.stdout.write(f"{'would remove' if dry_run else 'removed'} {name}")
        verb = "Found" if dry_run else "Removed"
        self.stdout.write(self.style.SUCCESS(f"{verb} {len(orphans)} orphaned file(s)."))
