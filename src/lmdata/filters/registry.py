"""Versioned filter registry (after dolma's ``TaggerRegistry``: names like ``gopher_v1``).

A name is frozen once published: any change to what a filter scores gets a new name
(``..._v2``), so stored attributes always mean what their column name says.
Built-in filter modules are imported on first lookup, so ``get_filter("c4_v1")`` works without
importing :mod:`lmdata.filters.heuristics` first. Modules are pure: importing them loads no model.
"""

from __future__ import annotations

import importlib
import re

from lmdata.errors import ConfigError
from lmdata.filters.core import Filter

#: modules whose import registers built-in filters (must stay cheap to import)
BUILTIN_MODULES: tuple[str, ...] = (
    "lmdata.filters.heuristics",
    "lmdata.filters.multilingual",
    "lmdata.filters.langid",
    "lmdata.filters.toxicity",
    "lmdata.filters.code_filters",
    "lmdata.filters.secrets",
    "lmdata.filters.pii",
    "lmdata.filters.quality_model",
    "lmdata.filters.url",
)

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*_v(\d+)$")
_REGISTRY: dict[str, type[Filter]] = {}
_loaded = False


def register(cls: type[Filter]) -> type[Filter]:
    """Class decorator: add a Filter subclass under its ``name`` (``<stem>_v<version>``)."""
    if not (isinstance(cls, type) and issubclass(cls, Filter)):
        raise TypeError(f"register: {cls!r} is not a Filter subclass")
    name = getattr(cls, "name", None)
    m = _NAME_RE.match(name or "")
    if m is None:
        raise ValueError(f"register: filter name {name!r} must look like 'stem_v<version>'")
    if int(m.group(1)) != cls.version:
        raise ValueError(f"register: {name!r} does not end with its version {cls.version}")
    existing = _REGISTRY.get(name)
    if existing is not None and existing is not cls:
        if (existing.__module__, existing.__qualname__) != (cls.__module__, cls.__qualname__):
            raise ValueError(f"register: filter name {name!r} is already taken by {existing!r}")
    _REGISTRY[name] = cls
    return cls


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        for module in BUILTIN_MODULES:
            importlib.import_module(module)
        _loaded = True


def available() -> list[str]:
    """All registered filter names, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


def get_filter(name: str) -> type[Filter]:
    """The Filter class registered as ``name``; ConfigError listing the known names if none."""
    _load_builtins()
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown filter {name!r}; known filters: {', '.join(sorted(_REGISTRY))}"
        ) from None
