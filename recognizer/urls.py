from django.urls import path, re_path

from . import api, views

urlpatterns = [
    path("", views.index, name="index"),
    path("favicon.ico", views.favicon, name="favicon"),
    re_path(r"^api/predict/?$", api.predict, name="api-predict"),
    re_path(r"^api/read/?$", api.read, name="api-read"),
    re_path(r"^api/health/?$", api.health, name="api-health"),
    re_path(r"^api/samples/?$", api.samples, name="api-samples"),
    re_path(r"^api/samples/number/?$", api.number_samples, name="api-number-samples"),
    re_path(r"^api/samples/(?P<sample_id>[0-9]{1,18})/?$", api.sample_detail, name="api-sample"),
]
