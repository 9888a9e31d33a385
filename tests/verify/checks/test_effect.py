"""The effect check: the factory, in the target's interpreter, must build the legacy env itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_lib.target.manifest import load_manifest
from runbook_lib.verify.checks.effect import check_effect


def test_without_a_rollback_the_effect_fails_naming_both_classes(fresh_sandbox: Path) -> None:
    result = check_effect(load_manifest(fresh_sandbox), "env-var")
    assert result.status == "fail"
    assert result.summary == "the factory still builds UnifiedSimEnv, not the legacy GeneralSimEnv"
    assert result.evidence["legacy"]["unwrapped"].endswith("GeneralSimEnv")


def test_the_recorded_env_var_rollback_is_in_effect_whatever_the_shell_says(
    fresh_sandbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USE_UNIFIED_ENV", "1")  # the caller's shell is not the rollback
    (fresh_sandbox / ".runbook").mkdir()
    (fresh_sandbox / ".runbook/rollback.env").write_text("USE_UNIFIED_ENV=0\n")
    result = check_effect(load_manifest(fresh_sandbox), "env-var")
    assert result.status == "pass", result.summary
    legacy, default = result.evidence["legacy"], result.evidence["default"]
    assert legacy["fingerprint"] == default["fingerprint"]
    assert result.evidence["switches_dropped_from_caller"] == ["USE_UNIFIED_ENV"]
