"""The IRI grammar is compiled only when something checks an IRI, not as nbformat loads."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

_PROBE = """
import json, sys
import runbook_lib.runs, papermill, nbformat
loaded_early = "rfc3987_syntax.syntax_helpers" in sys.modules
from jsonschema import Draft202012Validator, FormatChecker
check = Draft202012Validator({"format": "iri"}, format_checker=FormatChecker()).is_valid
print(json.dumps({
    "loaded_early": loaded_early,
    "good": check("https://example.org/r\\u00e9sum\\u00e9"),
    "bad": check("not an iri"),
    "loaded_after": "rfc3987_syntax.syntax_helpers" in sys.modules,
}))
"""


@pytest.mark.skipif(
    importlib.util.find_spec("rfc3987_syntax") is None, reason="rfc3987_syntax is not installed"
)
def test_iri_checks_work_and_the_grammar_loads_only_when_used() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"loaded_early": False, "good": True, "bad": False, "loaded_after": True}
