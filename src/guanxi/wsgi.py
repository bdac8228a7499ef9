import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanxi.settings")
application = get_wsgi_application()

# Load every URLconf and view now, then take everything loaded so far out of the garbage
# collector's sight (it lives as long as the process anyway): a full collection of a web
# worker's heap paused its requests for about 70 ms; with the start-up objects frozen it takes
# well under a millisecond.
from django.urls import get_resolver  # noqa: E402

get_resolver().url_patterns  # noqa: B018
gc.freeze()
