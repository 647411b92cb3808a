"""Compression techniques, one module each, registered under their code.

``get_technique("W3")`` returns the class; ``all_techniques()`` every class.
Modules register themselves with ``@register``; this package imports each of
its modules on first lookup, so adding a technique is adding a module.
"""

from __future__ import annotations

import importlib
import pkgutil

from compression.errors import UnknownTechniqueError
from compression.techniques.base import Technique

_REGISTRY: dict[str, type[Technique]] = {}
_NOT_TECHNIQUES = {"base"}


def register(cls: type[Technique]) -> type[Technique]:
    """Class decorator: add a technique to the registry under ``cls.code``."""
    if cls.code in _REGISTRY and _REGISTRY[cls.code] is not cls:
        raise ValueError(f"Technique code registered twice. Received: code={cls.code!r}")
    _REGISTRY[cls.code] = cls
    return cls


def get_technique(code: str) -> type[Technique]:
    """The technique class registered under ``code``.

    Raises:
        UnknownTechniqueError: no technique has that code.
    """
    _discover()
    try:
        return _REGISTRY[code]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise UnknownTechniqueError(
            f"Unknown technique code. Known codes: {known}. Received: code={code!r}"
        ) from None


def all_techniques(model_format: str | None = "keras") -> list[type[Technique]]:
    """Registered technique classes, ordered by code.

    Args:
        model_format: only the techniques that accept this format (the default,
            ``"keras"``, is what every caller compressing Keras models wants);
            ``None`` for every registered technique.
    """
    _discover()
    classes = [_REGISTRY[code] for code in sorted(_REGISTRY)]
    return [c for c in classes if model_format is None or model_format in c.accepts]


def _discover() -> None:
    for module in pkgutil.iter_modules(__path__):
        if module.name not in _NOT_TECHNIQUES and not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")


__all__ = ["Technique", "all_techniques", "get_technique", "register"]
