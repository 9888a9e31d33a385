"""The SAC checks (models, config, integrity, trading) on a real sandbox and its defects."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from runbook_lib.base.fsutil import sha256_file
from runbook_lib.base.report import CheckResult
from runbook_lib.sandbox.defects import inject_defect
from runbook_lib.sandbox.sac_artifacts import BACKUP_TIMESTAMP
from runbook_lib.target.manifest import load_manifest
from runbook_lib.target.specs import TradingBounds
from runbook_lib.verify.checks.config import check_config
from runbook_lib.verify.checks.integrity import check_integrity, stable_models
from runbook_lib.verify.checks.models import check_models
from runbook_lib.verify.checks.trading import check_trading, compare_metrics

BACKUP = f"backups/{BACKUP_TIMESTAMP}"


def strict_json(result: CheckResult) -> dict[str, object]:
    data: dict[str, object] = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    return data


def edit_manifest(root: Path, old: str, new: str) -> None:
    path = root / "runbook.toml"
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


# --- models ------------------------------------------------------------------------------


@pytest.mark.slow
def test_models_pass_on_the_release(fresh_sandbox: Path) -> None:
    result = check_models(load_manifest(fresh_sandbox))
    assert result.status == "pass", result.summary
    evidence = strict_json(result)["evidence"]
    assert isinstance(evidence, dict)
    assert evidence["deployed"] == "models/sac_v2.zip"
    models = evidence["models"]
    assert set(models) == {"models/sac_v1.zip", "models/sac_v2.zip"}
    assert models["models/sac_v2.zip"]["fits_env"] is True
    # The stable model is kept for the rollback; it does not fit the release env, which
    # is expected: only the deployed model must fit.
    assert models["models/sac_v1.zip"]["fits_env"] is False
    assert models["models/sac_v1.zip"]["sha256"] == models["models/sac_v1.zip"]["backup_sha256"]
    assert evidence["env"]["observation_space"]["shape"] == [20]
    assert "models/sac_v1.zip matches the backup" in result.summary


@pytest.mark.slow
def test_model_obs_mismatch_fails_naming_the_spaces(fresh_sandbox: Path) -> None:
    inject_defect(fresh_sandbox, "model-obs-mismatch")
    result = check_models(load_manifest(fresh_sandbox))
    assert result.status == "fail" and result.blocking
    assert result.summary.startswith("models/sac_v2.zip: model observation_space")
    assert "does not match the env's" in result.summary
    deployed = strict_json(result)["evidence"]["models"]["models/sac_v2.zip"]  # type: ignore[index]
    assert deployed["observation_space"]["shape"] == [17]


@pytest.mark.slow
def test_a_changed_backed_up_model_and_a_broken_zip_fail(fresh_sandbox: Path) -> None:
    stable = fresh_sandbox / "models" / "sac_v1.zip"
    stable.write_bytes(stable.read_bytes()[:1000])
    result = check_models(load_manifest(fresh_sandbox))
    assert result.status == "fail"
    assert "models/sac_v1.zip does not load with SAC" in result.summary
    assert (
        "models/sac_v1.zip sha256" in result.summary
        and "differs from the backup's" in result.summary
    )


@pytest.mark.slow
def test_an_env_that_cannot_be_built_fails(fresh_sandbox: Path) -> None:
    # Without env_config the entry point is called with no argument: make_env needs one.
    edit_manifest(fresh_sandbox, 'env_config = "configs/sac_config.json"\n', "")
    edit_manifest(fresh_sandbox, 'deployed_key = "model_path"\n', "")
    result = check_models(load_manifest(fresh_sandbox))
    assert result.status == "fail"
    assert (
        "the env could not be built: src.rl.sac.sac_agent:make_env failed: TypeError"
        in result.summary
    )


# --- config ------------------------------------------------------------------------------


def test_config_passes_on_the_release(fresh_sandbox: Path) -> None:
    result = check_config(load_manifest(fresh_sandbox))
    assert result.status == "pass", result.summary
    assert result.summary.endswith("configs/sac_config.json: OK")
    assert strict_json(result)["evidence"]["returncode"] == 0  # type: ignore[index]


@pytest.mark.parametrize(
    ("defect", "expected"),
    [
        ("config-corrupt", "configs/sac_config.json: invalid JSON at line"),
        ("config-out-of-range", "key 'env.transaction_cost' = 1.5 is out of range"),
    ],
)
def test_a_bad_config_fails_naming_the_problem(
    fresh_sandbox: Path, defect: str, expected: str
) -> None:
    inject_defect(fresh_sandbox, defect)
    result = check_config(load_manifest(fresh_sandbox))
    assert result.status == "fail" and result.blocking
    assert "exited with 1" in result.summary and expected in result.summary
    assert any(expected in line for line in result.evidence["output"])


def test_config_check_skips_without_a_validator(fresh_sandbox: Path) -> None:
    edit_manifest(
        fresh_sandbox,
        'config_command = ["{python}", "scripts/validate_config.py", "configs/sac_config.json"]\n',
        "",
    )
    result = check_config(load_manifest(fresh_sandbox))
    assert (result.status, result.blocking) == ("skip", False)


# --- integrity ---------------------------------------------------------------------------


def test_integrity_before_a_rollback_reports_the_differences(fresh_sandbox: Path) -> None:
    result = check_integrity(load_manifest(fresh_sandbox), expect_restored=False)
    assert result.status == "pass", result.summary
    rows = {row["path"]: row["status"] for row in result.evidence["workspace"]}
    assert rows == {"configs/sac_config.json": "differs", "models/sac_v1.zip": "match"}
    assert "differs in configs/sac_config.json (differs)" in result.summary
    strict_json(result)


def test_integrity_fails_when_the_restore_is_missing_and_passes_once_restored(
    fresh_sandbox: Path,
) -> None:
    manifest = load_manifest(fresh_sandbox)
    result = check_integrity(manifest)
    assert result.status == "fail"
    assert "does not hold what backups/" in result.summary
    assert "configs/sac_config.json (differs)" in result.summary
    shutil.copy2(
        fresh_sandbox / BACKUP / "configs/sac_config.json",
        fresh_sandbox / "configs/sac_config.json",
    )
    result = check_integrity(manifest)
    assert result.status == "pass", result.summary
    assert result.summary.endswith("the workspace matches all 2 of its files")


@pytest.mark.parametrize(
    ("defect", "expected"),
    [
        ("backup-flipped-byte", "models/sac_v1.zip: FAILED (checksum mismatch)"),
        ("backup-truncated", "models/sac_v1.zip: FAILED (checksum mismatch)"),
        ("backup-missing-file", "configs/sac_config.json: FAILED open or read (missing)"),
    ],
)
def test_a_corrupted_backup_fails_naming_the_file(
    fresh_sandbox: Path, defect: str, expected: str
) -> None:
    inject_defect(fresh_sandbox, defect)
    result = check_integrity(load_manifest(fresh_sandbox), expect_restored=False)
    assert result.status == "fail" and result.blocking
    assert result.summary.startswith(f"backup {BACKUP} is corrupted: ")
    assert expected in result.summary
    assert result.evidence["backup_verification"]["passed"] is False


def test_integrity_without_any_backup_fails(fresh_sandbox: Path) -> None:
    shutil.rmtree(fresh_sandbox / "backups")
    result = check_integrity(load_manifest(fresh_sandbox))
    assert result.status == "fail" and "no backup in" in result.summary


def test_a_named_backup_is_used_and_a_bad_name_refused(fresh_sandbox: Path) -> None:
    manifest = load_manifest(fresh_sandbox)
    result = check_integrity(manifest, backup=BACKUP_TIMESTAMP, expect_restored=False)
    assert result.status == "pass" and result.evidence["backup"] == BACKUP
    for name in ("..", "20990101T000000Z", f"../{BACKUP_TIMESTAMP}"):
        result = check_integrity(manifest, backup=name)
        assert result.status == "fail" and f"no backup {name!r} in" in result.summary


def test_stable_models_come_from_the_backup(sandbox: Path) -> None:
    models = stable_models(load_manifest(sandbox))
    assert models == {"models/sac_v1.zip": sha256_file(sandbox / BACKUP / "models/sac_v1.zip")}


# --- trading -----------------------------------------------------------------------------


def test_compare_metrics_holds_each_bound() -> None:
    baseline = {
        "total_return": 0.30,
        "sharpe": 1.5,
        "max_drawdown": 0.06,
        "transaction_costs": 0.02,
    }
    bounds = TradingBounds(
        max_return_drop=0.05, max_sharpe_drop=0.5, max_drawdown_rise=0.05, max_cost_rise=0.03
    )
    inside = {"total_return": 0.26, "sharpe": 1.1, "max_drawdown": 0.10, "transaction_costs": 0.045}
    assert all(row["ok"] for row in compare_metrics(inside, baseline, bounds).values())
    outside = {"total_return": 0.24, "sharpe": 0.9, "max_drawdown": 0.12, "transaction_costs": 0.06}
    rows = compare_metrics(outside, baseline, bounds)
    assert not any(row["ok"] for row in rows.values())
    assert rows["total_return"]["problem"].startswith("total_return 0.24 is below the limit 0.25")
    assert rows["max_drawdown"]["problem"].startswith("max_drawdown 0.12 is above the limit 0.11")
    broken = compare_metrics({**inside, "sharpe": math.nan}, baseline, bounds)
    assert broken["sharpe"]["ok"] is False and "not a number" in broken["sharpe"]["problem"]
    json.dumps(broken, allow_nan=False)
    missing = compare_metrics({"sharpe": 1.5}, baseline, bounds)
    assert missing["total_return"]["ok"] is False


@pytest.mark.slow
def test_trading_passes_on_the_release_against_the_stable_baseline(fresh_sandbox: Path) -> None:
    result = check_trading(load_manifest(fresh_sandbox))
    assert result.status == "pass", result.summary
    evidence = strict_json(result)["evidence"]
    assert isinstance(evidence, dict)
    assert evidence["stable_ref"] == "v1.0" and evidence["backup"] == BACKUP
    assert set(evidence["metrics"]) == {
        "total_return",
        "sharpe",
        "max_drawdown",
        "transaction_costs",
    }
    # The baseline ran the stable code on the backed-up config and model: different numbers.
    assert evidence["baseline"] != evidence["current"]
    assert evidence["baseline_run"]["cwd"] != str(fresh_sandbox)


@pytest.mark.slow
def test_trading_bounds_come_from_the_manifest(fresh_sandbox: Path) -> None:
    # The release trades more than the stable model: no cost rise allowed fails it.
    edit_manifest(fresh_sandbox, "max_cost_rise = 0.03", "max_cost_rise = 0.0")
    result = check_trading(load_manifest(fresh_sandbox))
    assert result.status == "fail"
    assert result.summary.startswith("transaction_costs ") and "max_cost_rise 0.0" in result.summary


@pytest.mark.slow
def test_nan_actions_fail_the_trading_check(fresh_sandbox: Path) -> None:
    inject_defect(fresh_sandbox, "code-nan-action")
    result = check_trading(load_manifest(fresh_sandbox))
    assert result.status == "fail"
    assert result.summary.startswith("the current evaluation exited with 1")
    strict_json(result)


def test_a_corrupted_backup_leaves_no_trusted_baseline(fresh_sandbox: Path) -> None:
    inject_defect(fresh_sandbox, "backup-flipped-byte")
    result = check_trading(load_manifest(fresh_sandbox))
    assert result.status == "fail"
    assert result.summary.startswith("no trusted stable baseline: the backup the baseline needs")
