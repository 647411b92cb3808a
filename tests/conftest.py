"""Suite-wide fixtures: uploaded files go to a per-test temporary MEDIA_ROOT."""

import pytest


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
