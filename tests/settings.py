"""The tests' settings: the product's, with debug asked for as `make run` does.

The product defaults to debug off and refuses to start without a secret key; the tests run
on a fresh checkout with no environment, so they ask for debug here before the settings are
read (pytest-django still runs each test with DEBUG off, as production would). Static files
are looked up by the finders: a test does not need `collectstatic` to have run.
"""

import os

os.environ.setdefault("DJANGO_DEBUG", "true")

from kpiplatform.settings import *  # noqa: E402, F403

STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Counters shared across processes in production (Redis or files) stay in the test process.
CACHES = {**CACHES, "shared": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "shared"}}  # noqa: F405
