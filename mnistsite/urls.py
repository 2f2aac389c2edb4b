from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("recognizer.urls")),
]

if settings.SERVE_MEDIA:
    # Sample images: small PNGs under unguessable names. A web server or object storage can take this over.
    urlpatterns.append(re_path(rf"^{settings.MEDIA_URL.strip('/')}/(?P<path>.+)$", serve,
                               {"document_root": settings.MEDIA_ROOT}))
