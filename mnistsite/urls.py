from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from recognizer.views import media_file

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("recognizer.urls")),
    path("", include("training.urls")),
]

# The API answers its errors as JSON; pages get Django's own error pages.
handler400 = "recognizer.http.bad_request"
handler404 = "recognizer.http.not_found"
handler500 = "recognizer.http.server_error"

if settings.SERVE_MEDIA:
    urlpatterns.append(re_path(rf"^{settings.MEDIA_URL.strip('/')}/(?P<path>.+)$", media_file, name="media"))
