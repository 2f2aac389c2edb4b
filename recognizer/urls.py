from django.urls import path, re_path

from . import api, views

urlpatterns = [
    path("", views.index, name="index"),
    re_path(r"^api/predict/?$", api.predict, name="api-predict"),
    re_path(r"^api/health/?$", api.health, name="api-health"),
]
