"""One entry point for every dataset source: ``load_dataset("npz", path=…)``.

Sources are looked up in a dict, so the web app and the command line accept
any source by name without knowing its loader; options are checked against
the loader's signature so a typo is reported, not silently ignored.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from compression.data.base import Dataset
from compression.data.digits import load_digits
from compression.data.keras_datasets import load_keras_dataset
from compression.data.npz import load_npz
from compression.errors import DatasetError

# Source name -> loader. "digits" takes seed and resize_to; "keras" name and
# path; "npz" path (and name, val_fraction, seed, num_classes).
SOURCES: dict[str, Callable[..., Dataset]] = {
    "digits": load_digits,
    "keras": load_keras_dataset,
    "npz": load_npz,
}


def load_dataset(source: str, **options: object) -> Dataset:
    """Load a dataset from a named source.

    Args:
        source: one of ``SOURCES`` ("digits", "keras", "npz").
        **options: the source's loader arguments.

    Returns:
        The loaded ``Dataset``.

    Raises:
        DatasetError: unknown source, unknown option or missing required
            option, or the loader's own errors.
    """
    if source not in SOURCES:
        raise DatasetError(
            f"Unknown dataset source. Known: {', '.join(SOURCES)}. Received: source={source!r}"
        )
    loader = SOURCES[source]
    parameters = inspect.signature(loader).parameters
    unknown = sorted(set(options) - set(parameters))
    if unknown:
        raise DatasetError(
            f"Dataset source {source!r} has no option {', '.join(unknown)}. "
            f"Its options: {', '.join(parameters)}."
        )
    required = [key for key, p in parameters.items() if p.default is p.empty and key not in options]
    if required:
        raise DatasetError(f"Dataset source {source!r} needs the option {', '.join(required)}.")
    return loader(**options)
