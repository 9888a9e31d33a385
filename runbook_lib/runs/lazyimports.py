"""An import that costs more than it gives, deferred in the processes that run notebooks.

nbformat (so papermill and nbconvert) imports jsonschema, whose format checkers
import ``rfc3987_syntax`` when it is installed (jsonschema's ``format-nongpl``
extra, which jupyter-events pulls in). Its 1.1 release compiles a Lark grammar as
it is imported: about 1.5 s of CPU in every process that runs a notebook, for the
``iri`` formats that no notebook schema uses. :func:`defer_iri_grammar` puts a
stand-in module in its place whose ``is_valid_syntax`` imports the real module on
its first call: jsonschema registers its ``iri`` checkers as before, and they
check exactly as before whenever something uses them.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

_NAME = "rfc3987_syntax"
_MARK = "__runbook_stand_in__"


def _real() -> types.ModuleType:
    """The real module, imported now (the stand-in leaves ``sys.modules`` first)."""
    current = sys.modules.get(_NAME)
    if current is not None and getattr(current, _MARK, False):
        del sys.modules[_NAME]
    return importlib.import_module(_NAME)


def _is_valid_syntax(term: str, value: str) -> Any:
    return _real().is_valid_syntax(term, value)


def _getattr(name: str) -> Any:
    if name.startswith("__"):  # what the import system asks (``__path__``...): not a use
        raise AttributeError(name)
    return getattr(_real(), name)


def defer_iri_grammar() -> bool:
    """Stand in for ``rfc3987_syntax`` until it is used; True when the stand-in was put.

    Does nothing when the module is not installed, or when it (or jsonschema,
    which imports it) is imported already.
    """
    if _NAME in sys.modules or "jsonschema" in sys.modules:
        return False
    spec = importlib.util.find_spec(_NAME)
    if spec is None:
        return False
    stand_in = types.ModuleType(_NAME, "Stands in for rfc3987_syntax until it is used.")
    stand_in.__spec__ = spec  # what importlib.util.find_spec answers meanwhile
    setattr(stand_in, _MARK, True)
    stand_in.is_valid_syntax = _is_valid_syntax  # type: ignore[attr-defined]
    stand_in.__getattr__ = _getattr  # type: ignore[method-assign]  # any other name: the real one
    sys.modules[_NAME] = stand_in
    return True
