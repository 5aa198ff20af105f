"""Package names that load their module on first use (PEP 562)."""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Any, Callable


def attach(package: str, where: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose name ``n`` lives in submodule ``where[n]``.

    Called from the package's ``__init__`` (already in ``sys.modules`` while it runs); a name is
    imported on first use and then kept in the package's namespace.

    Examples
    --------
    >>> getattr_, dir_ = attach("mlsmith", {"load_problem": "problem"})
    >>> getattr_("load_problem").__module__
    'mlsmith.problem'
    """
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value = getattr(import_module(f".{where[name]}", package), name)
        return value

    def __dir__() -> list[str]:
        return sorted([*namespace, *where])

    return __getattr__, __dir__
