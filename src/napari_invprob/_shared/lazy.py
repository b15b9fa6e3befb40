"""Lazy exports for a package's ``__init__``: a public name is imported from its module on first use, so
importing the package (or one of its modules) stays cheap and creates no import cycle."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable


def lazy_exports(package: str, table: dict[str, str], *, also=()) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` that import each name of ``table`` from its module.

    Parameters
    ----------
    package : str
        The package's ``__name__`` (for the error message and relative module names).
    table : dict of str to str
        Public name → module holding it (absolute, or relative to ``package`` when it starts with ``.``).
    also : iterable of str
        Names the package defines itself, listed by ``dir`` beside the lazy ones.

    Returns
    -------
    tuple of callable
        The module-level ``__getattr__`` and ``__dir__`` to assign in the package's ``__init__``.

    Raises
    ------
    ValueError
        If a name of ``table`` is also a module of ``package``: once that module is imported, Python
        binds the name to it, so ``from package import name`` would give the function or the module
        depending on what ran before.
    """
    shadowed = [name for name in table if importlib.util.find_spec(f"{package}.{name}") is not None]
    if shadowed:
        raise ValueError(f"{package} cannot export {', '.join(shadowed)} lazily: a module of the same name exists")

    def __getattr__(name: str):
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module, package), name)

    def __dir__() -> list[str]:
        return sorted({*table, *also})

    return __getattr__, __dir__
