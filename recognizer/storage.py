"""Object storage for several hosts: S3 (or any S3-compatible store) for samples' files and model weights.

Chosen by settings alone (STORAGE_S3_BUCKET): on one machine the file system serves, as it always has.
"""

from urllib.parse import urljoin

from django.conf import settings
from django.utils.encoding import filepath_to_uri
from storages.backends.s3 import S3Storage


class SiteServedS3Storage(S3Storage):
    """Samples' files in S3, their URLs the site's own (/media/..., served by recognizer.views.media_file).

    Proxied rather than presigned: pages keep one origin (the Content-Security-Policy allows images from the site
    only), no bucket address or signature appears in a page, and a drawing stays exactly as private as on the
    file system: reachable only by its unguessable name. A sample's image is a few kB, so the extra hop is small.
    """

    def url(self, name, parameters=None, expire=None, http_method=None):
        return urljoin("/" + settings.MEDIA_URL.lstrip("/"), filepath_to_uri(name))
