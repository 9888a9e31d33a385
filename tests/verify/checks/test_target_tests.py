"""The target's own tests, run with the rollback's environment, read from their JUnit XML."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.sandbox.defects import SYMPTOMS, inject_defect
from runbook_lib.target.envfile import ROLLBACK_ENV_FILE
from runbook_lib.target.manifest import load_manifest
from runbook_lib.verify.checks.target_tests import check_target_tests, node_id, parse_junit

TESTS_COMMAND = 'command = ["{python}", "-m", "pytest", "-q", "tests", "--junitxml", "{junit}"]'

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="5">
  <testcase classname="tests.rl.test_a" name="test_ok" time="0.010"/>
  <testcase classname="tests.rl.test_a" name="test_bad[1-x]" time="0.5">
    <failure message="assert 1 == 2">long traceback</failure></testcase>
  <testcase classname="tests.rl.test_a.TestGroup" name="test_method" time="x">
    <error message="fixture exploded"/></testcase>
  <testcase classname="tests.rl.test_a" name="test_later" time="0">
    <skipped message="needs a GPU"/></testcase>
  <testcase classname="" name="test_orphan"/>
</testsuite></testsuites>
"""


def set_tests_command(root: Path, command: str) -> None:
    path = root / "runbook.toml"
    text = path.read_text(encoding="utf-8")
    assert text.count(TESTS_COMMAND) == 1
    path.write_text(text.replace(TESTS_COMMAND, command), encoding="utf-8")


def test_parse_junit_gives_one_entry_per_test(tmp_path: Path) -> None:
    (tmp_path / "tests" / "rl").mkdir(parents=True)
    (tmp_path / "tests" / "rl" / "test_a.py").write_text("")
    report = tmp_path / "junit.xml"
    report.write_text(JUNIT)
    cases = parse_junit(report, tmp_path)
    assert [(c.id, c.status) for c in cases] == [
        ("tests/rl/test_a.py::test_ok", "pass"),
        ("tests/rl/test_a.py::test_bad[1-x]", "fail"),
        ("tests/rl/test_a.py::TestGroup::test_method", "error"),
        ("tests/rl/test_a.py::test_later", "skip"),
        ("test_orphan", "pass"),
    ]
    assert cases[1].message == "assert 1 == 2" and cases[1].seconds == 0.5
    assert cases[2].seconds == 0.0 and cases[3].message == "needs a GPU"


def test_node_id_falls_back_to_the_classname(tmp_path: Path) -> None:
    assert node_id(tmp_path, "pkg.mod", "test_x") == "pkg.mod::test_x"


@pytest.mark.parametrize("text", ["<not xml", "<html><body/></html>"])
def test_parse_junit_refuses_what_is_not_junit(tmp_path: Path, text: str) -> None:
    report = tmp_path / "junit.xml"
    report.write_text(text)
    with pytest.raises(InvalidInputError, match=r"JUnit XML"):
        parse_junit(report, tmp_path)


@pytest.mark.slow
def test_target_tests_pass_on_the_release(fresh_sandbox: Path, tmp_path: Path) -> None:
    junit = tmp_path / "kept" / "junit.xml"
    result = check_target_tests(load_manifest(fresh_sandbox), junit_path=junit)
    assert result.status == "pass", result.summary
    assert junit.is_file(), "the JUnit XML is kept as evidence"
    evidence = json.loads(json.dumps(result.evidence, allow_nan=False))
    tests = evidence["tests"]
    assert len(tests) > 40 and all(t["status"] in ("pass", "skip") for t in tests)
    assert evidence["counts"]["pass"] == sum(t["status"] == "pass" for t in tests)
    assert result.summary.startswith(f"exit 0: {evidence['counts']['pass']} passed, 0 failed")
    ids = {t["id"] for t in tests}
    assert SYMPTOMS["code-nan-action"].test in ids
    assert evidence["junit"] == str(junit) and evidence["returncode"] == 0


@pytest.mark.slow
def test_nan_action_fails_naming_the_test_and_its_message(fresh_sandbox: Path) -> None:
    inject_defect(fresh_sandbox, "code-nan-action")
    result = check_target_tests(load_manifest(fresh_sandbox))
    assert result.status == "fail" and result.blocking
    symptom = SYMPTOMS["code-nan-action"]
    assert result.summary.startswith("exit 1: ") and symptom.test in result.summary
    entry = next(t for t in result.evidence["tests"] if t["id"] == symptom.test)
    assert entry["status"] == "fail" and symptom.message in entry["message"]
    assert result.evidence["counts"]["fail"] >= 1 and result.evidence["junit"] is None


def test_the_rollback_env_is_applied_and_the_callers_switches_dropped(
    fresh_sandbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = fresh_sandbox / "tests" / "test_rollback_env_seen.py"
    probe.write_text(
        "import os\n\n\ndef test_env():\n"
        "    assert os.environ.get('USE_UNIFIED_ENV') == '0', os.environ.get('USE_UNIFIED_ENV')\n"
        "    assert 'RL_ENV_TYPE' not in os.environ\n"
    )
    set_tests_command(
        fresh_sandbox,
        'command = ["{python}", "-m", "pytest", "-q", '
        '"tests/test_rollback_env_seen.py", "--junitxml", "{junit}"]',
    )
    monkeypatch.setenv("USE_UNIFIED_ENV", "1")
    monkeypatch.setenv("RL_ENV_TYPE", "unified")
    manifest = load_manifest(fresh_sandbox)
    result = check_target_tests(manifest)
    assert result.status == "fail", "without the rollback file the test must see no switch"
    (fresh_sandbox / ROLLBACK_ENV_FILE).parent.mkdir(exist_ok=True)
    (fresh_sandbox / ROLLBACK_ENV_FILE).write_text("USE_UNIFIED_ENV=0\n")
    result = check_target_tests(manifest)
    assert result.status == "pass", result.summary
    assert result.evidence["rollback_env"] == {"USE_UNIFIED_ENV": "0"}
    assert result.evidence["switches_dropped_from_caller"] == ["RL_ENV_TYPE", "USE_UNIFIED_ENV"]


def test_the_tests_tmp_path_root_is_private_and_others_dirs_are_left(
    fresh_sandbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A shared pytest root as other sessions leave it: the exiting pytest would delete
    # the numbered directories past the newest three (another session's files).
    shared = tmp_path / "shared"
    numbered = [shared / f"pytest-of-{getpass.getuser()}" / f"pytest-{n}" for n in range(1, 6)]
    for directory in numbered:
        (directory / "left-by-another-session").mkdir(parents=True)
    probe = fresh_sandbox / "tests" / "test_tmp_path_root.py"
    probe.write_text(
        "import os\n\n\ndef test_root(tmp_path):\n"
        f"    assert not str(tmp_path).startswith({str(shared)!r}), tmp_path\n"
        "    assert str(tmp_path).startswith(os.environ['PYTEST_DEBUG_TEMPROOT'])\n"
    )
    set_tests_command(
        fresh_sandbox,
        'command = ["{python}", "-m", "pytest", "-q", '
        '"tests/test_tmp_path_root.py", "--junitxml", "{junit}"]',
    )
    monkeypatch.setenv("TMPDIR", str(shared))
    result = check_target_tests(load_manifest(fresh_sandbox))
    assert result.status == "pass", result.summary
    assert all(directory.is_dir() for directory in numbered), "another session's dirs are kept"
    assert result.evidence["pytest_temproot"]


def test_a_command_that_writes_no_junit_fails_with_its_output(fresh_sandbox: Path) -> None:
    set_tests_command(
        fresh_sandbox,
        'command = ["{python}", "-c", "import sys; '
        "print('collection broke', file=sys.stderr); sys.exit(3)\"]",
    )
    result = check_target_tests(load_manifest(fresh_sandbox))
    assert result.status == "fail"
    assert result.summary.startswith("the test command exited with 3: collection broke")
    assert "cannot read JUnit XML" in result.summary


def test_a_hanging_test_command_is_killed(fresh_sandbox: Path) -> None:
    set_tests_command(fresh_sandbox, 'command = ["{python}", "-c", "import time; time.sleep(60)"]')
    result = check_target_tests(load_manifest(fresh_sandbox), timeout=1.0)
    assert result.status == "fail" and "timed out after 1 s and was killed" in result.summary
    assert result.evidence["returncode"] is None
