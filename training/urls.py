from django.urls import re_path

from . import api

urlpatterns = [
    re_path(r"^api/train/?$", api.train, name="api-train"),
    re_path(r"^api/train/(?P<run_id>[0-9]{1,18})/?$", api.train_status, name="api-train-status"),
    re_path(r"^api/model/?$", api.model, name="api-model"),
    re_path(r"^api/me/?$", api.my_data, name="api-me"),
]
