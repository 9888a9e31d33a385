"""Trading performance against the stable baseline (seed 003 step 12, "validate business metrics").

Seed 003: "Trading performance, Risk metrics, Transaction costs". The
manifest's ``[checks.trading] command`` evaluates a model over fixed seeds and
prints JSON metrics (a ``mean`` object, or the metrics at the top level). It
runs twice, side by side, in child processes:

* the **baseline**: the stable release as it was deployed, that is
  ``git archive`` of ``[git] stable_ref`` with the latest backup's files
  (config, model) laid over it; the backup must verify first;
* the **current** workspace.

The current mean total return and Sharpe ratio may trail the baseline, and its
maximum drawdown and transaction costs exceed it, by at most the manifest's
bounds (:class:`~runbook_lib.target.specs.TradingBounds`); a non-finite metric fails.
"""

from __future__ import annotations

import io
import math
import shutil
import subprocess
import sys
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from runbook_lib.base.checknames import CheckName
from runbook_lib.base.errors import InvalidInputError, WorkspaceError
from runbook_lib.base.report import CheckResult, Status, timed
from runbook_lib.target.checksums import verify_directory
from runbook_lib.target.manifest import Manifest
from runbook_lib.target.specs import TradingBounds, TradingSpec
from runbook_lib.verify.checks.integrity import find_backup
from runbook_lib.verify.checks.targetproc import TargetRun, json_safe, last_json_object, run_target

NAME = CheckName.TRADING
# metric: (bound's field in TradingBounds, +1 when higher is better, -1 when lower is)
RULES: dict[str, tuple[str, int]] = {
    "total_return": ("max_return_drop", +1),
    "sharpe": ("max_sharpe_drop", +1),
    "max_drawdown": ("max_drawdown_rise", -1),
    "transaction_costs": ("max_cost_rise", -1),
}


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _compare(metric: str, now: float, then: float, bounds: TradingBounds) -> dict[str, Any]:
    bound, direction = RULES[metric]
    allowed = float(getattr(bounds, bound))
    limit = then - direction * allowed
    ok = now >= limit if direction > 0 else now <= limit
    row: dict[str, Any] = {
        "current": now,
        "baseline": then,
        "bound": bound,
        "allowed": allowed,
        "limit": limit,
        "delta": now - then,
        "ok": ok,
    }
    if not ok:
        word = "below" if direction > 0 else "above"
        row["problem"] = (
            f"{metric} {now:.4g} is {word} the limit {limit:.4g} "
            f"(baseline {then:.4g}, {bound} {allowed})"
        )
    return row


def compare_metrics(
    current: dict[str, Any], baseline: dict[str, Any], bounds: TradingBounds
) -> dict[str, dict[str, Any]]:
    """Each metric of :data:`RULES`: both values, the limit, and whether it is within it."""
    rows: dict[str, dict[str, Any]] = {}
    for metric in RULES:
        now, then = _finite(current.get(metric)), _finite(baseline.get(metric))
        if now is None or then is None:
            # NaN is not JSON: the raw values go into the evidence as text.
            raw = {"current": repr(current.get(metric)), "baseline": repr(baseline.get(metric))}
            problem = f"{metric} is {raw['current']} (baseline {raw['baseline']}): not a number"
            rows[metric] = {**raw, "ok": False, "problem": problem}
        else:
            rows[metric] = _compare(metric, now, then, bounds)
    return rows


def export_stable(manifest: Manifest, dest: Path) -> dict[str, Any]:
    """Lay out the stable release in ``dest``: its git tree, then the latest backup's files.

    Returns:
        What was used: the ref and the backup.

    Raises:
        WorkspaceError: git cannot export the stable ref.
        InvalidInputError: there is no backup, or it does not verify.
    """
    ref = manifest.git.stable_ref
    proc = subprocess.run(
        ["git", "-C", str(manifest.root), "archive", "--format=tar", ref],
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        reason = proc.stderr.decode(errors="replace").strip()
        raise WorkspaceError(f"git archive {ref} failed in {manifest.root}: {reason}")
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as archive:
        archive.extractall(dest, filter="data")
    used: dict[str, Any] = {"stable_ref": ref, "backup": None}
    if manifest.backups is None:
        return used
    listing = find_backup(manifest)
    report = verify_directory(listing.directory, manifest.backups.checksum_file)
    if not report.passed:
        raise InvalidInputError(
            f"the backup the baseline needs is corrupted: {report.summary()}",
            hint="restore an intact backup first",
        )
    for relative in listing.entries:
        (dest / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(listing.directory / relative, dest / relative)
    used["backup"] = listing.directory.relative_to(manifest.root).as_posix()
    return used


def _metrics(run: TargetRun) -> dict[str, Any] | None:
    data = last_json_object(run.stdout) if run.ok else None
    if data is None:
        return None
    mean = data.get("mean")
    return mean if isinstance(mean, dict) else data


def _evaluate_both(
    manifest: Manifest, spec: TradingSpec, stable: Path, timeout: float
) -> tuple[TargetRun, TargetRun]:
    argv = spec.argv(sys.executable)
    single = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # two evaluations share the cores
    with ThreadPoolExecutor(max_workers=2) as pool:
        base = pool.submit(
            run_target, manifest, argv, timeout=timeout, cwd=stable, extra_env=single
        )
        now = pool.submit(run_target, manifest, argv, timeout=timeout, extra_env=single)
        return base.result(), now.result()


def _verdict(rows: dict[str, dict[str, Any]], used: dict[str, Any]) -> tuple[Status, str]:
    problems = [row["problem"] for row in rows.values() if not row["ok"]]
    if problems:
        return "fail", "; ".join(problems)
    shown = ", ".join(
        f"{metric} {row['current']:.4g} (baseline {row['baseline']:.4g})"
        for metric, row in rows.items()
    )
    return "pass", f"within bounds of the stable {used['stable_ref']}: {shown}"


def check_trading(manifest: Manifest, *, timeout: float = 300.0) -> CheckResult:
    """Evaluate the current model and the stable baseline; hold the current within the bounds."""
    spec = manifest.checks.trading if manifest.checks else None
    if spec is None:
        return CheckResult(NAME, "skip", "runbook.toml has no [checks.trading]", blocking=False)
    with timed() as elapsed, tempfile.TemporaryDirectory(prefix="runbook-stable-") as tmp:
        try:
            used = export_stable(manifest, Path(tmp))
        except (InvalidInputError, WorkspaceError) as err:
            return CheckResult(
                NAME,
                "fail",
                f"no trusted stable baseline: {err}",
                {"stable_ref": manifest.git.stable_ref},
                elapsed(),
            )
        base_run, now_run = _evaluate_both(manifest, spec, Path(tmp), timeout)
    baseline, current = _metrics(base_run), _metrics(now_run)
    evidence: dict[str, Any] = {
        **used,
        "bounds": spec.bounds._asdict(),
        "baseline_run": base_run.evidence(),
        "current_run": now_run.evidence(),
    }
    if baseline is None or current is None:
        label, run = ("baseline", base_run) if baseline is None else ("current", now_run)
        why = run.failure() or "printed no JSON object"
        return CheckResult(NAME, "fail", f"the {label} evaluation {why}", evidence, elapsed())
    rows = compare_metrics(current, baseline, spec.bounds)
    status, summary = _verdict(rows, used)
    evidence.update(metrics=rows, baseline=json_safe(baseline), current=json_safe(current))
    return CheckResult(NAME, status, summary, evidence, elapsed())
