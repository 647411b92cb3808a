"""The web process must start without TensorFlow (imported only by views that need it)."""

import subprocess
import sys

CHECK = (
    "import os, sys, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'webapp.settings'; "
    "django.setup(); import webapp.urls, webapp.api.urls; "
    "from django.urls import resolve; resolve('/api/results/export'); "
    "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
)


def test_it_loads_the_api_urls_without_importing_tensorflow():
    out = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split() == ["False", "False"]
