"""Suite-wide fixtures: uploaded files go to a per-test temporary MEDIA_ROOT."""

import pytest


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _short_fine_tuning(settings):
    # The runner's compressions in tests fine-tune for at most two epochs (the lab's
    # cap is 30, stopping early); early stopping itself is tested in
    # tests/compression/test_training.py.
    settings.COMPRESSION_FINE_TUNE_EPOCHS = 2


@pytest.fixture
def empty_results_cache():
    """The analysis reads kept per process (measurements.results_cache), empty before and after."""
    from measurements import results_cache

    results_cache.clear()
    yield
    results_cache.clear()
