from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate


def _register_base_model(sender, **kwargs) -> None:
    # Like contenttypes and permissions, the first model version is created as part of setting up a database.
    from .versions import model_version_register_base

    model_version_register_base()


def _delete_sample_files(sender, instance, **kwargs) -> None:
    # A signal, not Sample.delete(): bulk deletes (admin actions, querysets) must remove the files too.
    from .services import sample_delete_files_on_commit

    sample_delete_files_on_commit(instance)


class RecognizerConfig(AppConfig):
    name = "recognizer"
    verbose_name = "Digit recognizer"

    def ready(self) -> None:
        post_migrate.connect(_register_base_model, sender=self, dispatch_uid="recognizer.register_base_model")
        post_delete.connect(_delete_sample_files, sender="recognizer.Sample", dispatch_uid="recognizer.sample_files")
