from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _register_base_model(sender, using: str = "default", **kwargs) -> None:
    # Like contenttypes and permissions, the first model version is created as part of setting up a database.
    from .services import model_version_register_base

    model_version_register_base()


class RecognizerConfig(AppConfig):
    name = "recognizer"
    verbose_name = "Digit recognizer"

    def ready(self) -> None:
        post_migrate.connect(_register_base_model, sender=self, dispatch_uid="recognizer.register_base_model")
