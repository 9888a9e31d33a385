"""The target's own tests, with their JUnit XML read into per-test results (seed 003 step 8).

Seed 003: ``pytest tests/rl/sac/... -v``; seed 000 §8: "CI/CD pipelines pass".
The manifest's ``[tests] command`` runs in the target with the rollback's
environment (``.runbook/rollback.env``) applied, writing JUnit XML where
``{junit}`` says. Each test case becomes an entry ``{id, status, message,
seconds}`` with status ``pass``, ``fail``, ``error`` or ``skip``; the exit code
and the counts make the summary.
"""

from __future__ import annotations

import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook_lib.base.checknames import CheckName
from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.report import CheckResult, Status, timed
from runbook_lib.target.manifest import Manifest
from runbook_lib.verify.checks.targetproc import run_target

NAME = CheckName.TARGET_TESTS
_OUTCOMES = (("failure", "fail"), ("error", "error"), ("skipped", "skip"))
_MESSAGE_CHARS = 500
_NAMED_FAILURES = 5
# pytest's tmp_path root for the target's tests: a private directory, removed with the
# check's temporary directory. In the shared root (``$TMPDIR/pytest-of-USER``) the
# pytest that exits deletes every other session's numbered directories past the newest
# three: a drill's target-tests once spent 9 to 140 s after its junit was written
# removing another test session's sandboxes. The tests' own ``tempfile`` use is unchanged.
TEMPROOT_VAR = "PYTEST_DEBUG_TEMPROOT"
TEMPROOT_NOTE = "a private directory for this run, removed afterwards"


@dataclass(frozen=True)
class TestCase:
    """One test case of a JUnit report."""

    id: str
    status: str
    message: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.id,
            "status": self.status,
            "message": self.message,
            "seconds": self.seconds,
        }


def node_id(root: Path, classname: str, name: str) -> str:
    """The pytest node id (``tests/x/test_y.py::Class::test``) of a JUnit classname and name."""
    parts = classname.split(".") if classname else []
    for cut in range(len(parts), 0, -1):
        module = Path(*parts[:cut]).with_suffix(".py")
        if (root / module).is_file():
            return "::".join([module.as_posix(), *parts[cut:], name])
    return "::".join([*([classname] if classname else []), name])


def _case(root: Path, element: ET.Element) -> TestCase:
    status, message = "pass", ""
    for tag, outcome in _OUTCOMES:
        child = element.find(tag)
        if child is not None:
            status = outcome
            message = (child.get("message") or child.text or "").strip()[:_MESSAGE_CHARS]
            break
    try:
        seconds = round(float(element.get("time") or 0.0), 3)
    except ValueError:
        seconds = 0.0
    test_id = node_id(root, element.get("classname", ""), element.get("name", "?"))
    return TestCase(test_id, status, message, seconds)


def parse_junit(path: Path, root: Path) -> list[TestCase]:
    """Every test case in a JUnit XML file, in file order.

    Raises:
        InvalidInputError: the file is missing or is not JUnit XML.
    """
    try:
        tree = ET.parse(path)  # written by the target's pytest on this machine: trusted
    except (OSError, ET.ParseError) as err:
        raise InvalidInputError(f"cannot read JUnit XML {path}: {err}") from err
    if tree.getroot().tag not in ("testsuites", "testsuite"):
        raise InvalidInputError(f"{path} is not JUnit XML (root <{tree.getroot().tag}>)")
    return [_case(root, element) for element in tree.getroot().iter("testcase")]


def _summary(returncode: int | None, cases: list[TestCase]) -> str:
    counts = Counter(case.status for case in cases)
    head = f"exit {returncode}" if returncode is not None else "killed at the timeout"
    text = (
        f"{head}: {counts['pass']} passed, {counts['fail']} failed, "
        f"{counts['error']} errors, {counts['skip']} skipped"
    )
    bad = [case.id for case in cases if case.status in ("fail", "error")]
    if bad:
        more = f" (+{len(bad) - _NAMED_FAILURES} more)" if len(bad) > _NAMED_FAILURES else ""
        text += "; failing: " + ", ".join(bad[:_NAMED_FAILURES]) + more
    return text


def check_target_tests(
    manifest: Manifest,
    *,
    junit_path: Path | None = None,
    timeout: float = 900.0,
    rollback: bool = False,
    python: str | None = None,
) -> CheckResult:
    """Run the target's test command and report every test case.

    Args:
        manifest: The target.
        junit_path: Where the JUnit XML goes (kept as evidence); default a
            temporary file, removed afterwards.
        timeout: Seconds before the run is killed (and the check fails).
        rollback: Run ``[tests] rollback_command`` (seed 000 §4's rollback
            tests) instead of ``[tests] command``.
        python: What ``{python}`` stands for (default: runbook's interpreter).
    """
    if not manifest.test_command:
        return CheckResult(NAME, "skip", "runbook.toml has no [tests] command", blocking=False)
    with tempfile.TemporaryDirectory(prefix="runbook-junit-") as tmp:
        junit = junit_path or Path(tmp) / "junit.xml"
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.unlink(missing_ok=True)  # a stale report must not pass for this run's
        with timed() as elapsed:
            argv = manifest.test_argv(python or sys.executable, junit, rollback=rollback)
            temproot = Path(tmp) / "pytest-temproot"
            temproot.mkdir()
            run = run_target(
                manifest, argv, timeout=timeout, extra_env={TEMPROOT_VAR: str(temproot)}
            )
            try:
                cases = parse_junit(junit, manifest.root)
                junit_error = None
            except InvalidInputError as err:
                cases, junit_error = [], str(err)
    counts = dict(Counter(case.status for case in cases))
    evidence = {
        **run.evidence(),
        "manifest_key": "[tests] rollback_command" if rollback else "[tests] command",
        "junit": str(junit_path) if junit_path else None,
        "pytest_temproot": TEMPROOT_NOTE,
        "counts": counts,
        "tests": [case.to_dict() for case in cases],
    }
    if junit_error is not None:
        why = run.failure() or "exited 0"
        return CheckResult(
            NAME, "fail", f"the test command {why}; {junit_error}", evidence, elapsed()
        )
    failed = any(case.status in ("fail", "error") for case in cases)
    status: Status = "pass" if run.ok and cases and not failed else "fail"
    summary = _summary(run.returncode, cases)
    if not cases:
        summary += "; no test ran"
    return CheckResult(NAME, status, summary, evidence, elapsed())
