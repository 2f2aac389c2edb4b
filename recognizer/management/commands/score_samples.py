from django.core.management.base import BaseCommand, CommandError

from recognizer.exceptions import NoActiveModel
from recognizer.review import samples_score


class Command(BaseCommand):
    help = ("Score every sample the active shared version has not scored yet: its suspicion (how strongly the model "
            "disputes the label), here and now. The worker does this by itself after an activation and "
            "SCORE_DELAY_SECONDS after a sample is saved.")

    def handle(self, *args, **options) -> None:
        try:
            scored = samples_score()
        except NoActiveModel as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Scored {scored} sample(s).")
