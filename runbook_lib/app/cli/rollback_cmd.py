"""``runbook rollback``: plan, apply, undo, resume, status, and the immediate ``now``."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from runbook_lib.app.cli.common import emit
from runbook_lib.app.cli.fastnow import DEFAULT_TITLE, now_text
from runbook_lib.app.cli.options import OneLineGroup, archive_option, json_option, target_option
from runbook_lib.base.errors import CheckFailedError, InvalidInputError
from runbook_lib.rollback.strategies import Strategy

if TYPE_CHECKING:
    from runbook_lib.rollback.engine import OperationReport

incident_option = click.option("--incident", "incident_id", required=True, help="Incident ID.")
yes_option = click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
dry_run_option = click.option(
    "--dry-run", is_flag=True, help="Show what would happen; change nothing."
)


def confirm(question: str, yes: bool, dry_run: bool) -> None:
    """Ask on a terminal; elsewhere refuse unless ``--yes`` (a dry run never asks)."""
    if yes or dry_run:
        return
    if not sys.stdin.isatty():
        raise InvalidInputError(
            "refusing to change the target without confirmation (stdin is not a terminal)",
            hint="pass --yes to confirm, or --dry-run to look first",
        )
    if not click.confirm(question, default=False, err=True):
        raise InvalidInputError("not confirmed; nothing was changed")


def step_verb(report: OperationReport) -> str:
    """What the report's steps were: "would apply", "would revert", "reverted" or "done"."""
    undo = report.operation == "undo"
    if report.dry_run:
        return "would revert" if undo else "would apply"
    return "reverted" if undo else "done"


def _print_report(report: OperationReport, as_json: bool) -> None:
    heading = "dry run (nothing changed) of " if report.dry_run else ""
    lines = [f"{heading}{report.operation} plan {report.plan}"]
    lines += [f"  {step_verb(report)}: {title}" for title in report.steps_done]
    lines += [f"  {c.status:<4} {c.name}: {c.summary}" for c in report.checks]
    emit(report.to_dict(), as_json=as_json, text="\n".join(lines))
    if not report.ok:
        raise CheckFailedError("a step's verification failed after it was applied")


@click.group(cls=OneLineGroup)
def rollback() -> None:
    """Plan, apply, undo and resume rollbacks (journaled, one at a time per target).

    \b
    Strategies:
      env-var   seed 000 1.1: USE_UNIFIED_ENV=0 / RL_ENV_TYPE=legacy (.runbook/rollback.env)
      config    seed 000 1.3: [rl] use_unified_env = false
      code      seed 000 1.2: the designated call site passes env_type=EnvType.LEGACY
      force     seed 000 1.4: _FORCE_LEGACY_ENV = True
      now       env-var alone, the immediate path (seed 000 2, 3.1)
      sac-full  seed 003: code and docs from git, configs and models from verified
                backups, package downgrade, service restart
    """


@rollback.command("plan")
@incident_option
@click.option("--strategy", type=click.Choice([str(s) for s in Strategy]), required=True)
@target_option
@archive_option
@json_option
def plan_command(
    *, incident_id: str, strategy: str, target: Path, archive: Path, as_json: bool
) -> None:
    """Compute the exact changes of a strategy and save the plan (touches nothing)."""
    from runbook_lib.incident.ref import IncidentRef
    from runbook_lib.rollback.operations import plan_rollback

    plan = plan_rollback(IncidentRef(target, archive, incident_id), strategy)
    data = {"sha256": plan.sha256, **plan.to_dict()}
    text = (
        plan.describe() + f"\n\napply with: runbook rollback apply --incident {incident_id} "
        f"--plan {plan.sha256[:12]}"
    )
    emit(data, as_json=as_json, text=text)


@rollback.command("apply")
@incident_option
@click.option("--plan", "plan_sha", required=True, help="The plan's sha256 (or 7+ chars of it).")
@yes_option
@dry_run_option
@target_option
@archive_option
@json_option
def apply_command(
    *,
    incident_id: str,
    plan_sha: str,
    yes: bool,
    dry_run: bool,
    target: Path,
    archive: Path,
    as_json: bool,
) -> None:
    """Apply a saved plan; refused when the target changed since the plan (exit 4)."""
    from runbook_lib.incident.ref import IncidentRef
    from runbook_lib.rollback.operations import apply_rollback

    confirm(f"Apply plan {plan_sha} to {target}?", yes, dry_run)
    _print_report(
        apply_rollback(IncidentRef(target, archive, incident_id), plan_sha, dry_run=dry_run),
        as_json,
    )


@rollback.command("undo")
@incident_option
@yes_option
@dry_run_option
@target_option
@archive_option
@json_option
def undo_command(
    *, incident_id: str, yes: bool, dry_run: bool, target: Path, archive: Path, as_json: bool
) -> None:
    """Revert the incident's applied plan, step by step in reverse order."""
    from runbook_lib.incident.ref import IncidentRef
    from runbook_lib.rollback.operations import undo_rollback

    confirm(f"Undo the rollback of {incident_id} on {target}?", yes, dry_run)
    _print_report(
        undo_rollback(IncidentRef(target, archive, incident_id), dry_run=dry_run), as_json
    )


@rollback.command("resume")
@incident_option
@click.option("--revert", is_flag=True, help="Take the interrupted operation back instead.")
@yes_option
@target_option
@archive_option
@json_option
def resume_command(
    *, incident_id: str, revert: bool, yes: bool, target: Path, archive: Path, as_json: bool
) -> None:
    """Complete (or --revert) an operation that a crash interrupted, from the journal."""
    from runbook_lib.incident.ref import IncidentRef
    from runbook_lib.rollback.operations import resume_rollback

    confirm(f"Resume the interrupted operation of {incident_id}?", yes, False)
    _print_report(
        resume_rollback(IncidentRef(target, archive, incident_id), revert=revert), as_json
    )


@rollback.command("status")
@click.option(
    "--incident",
    "incident_id",
    default=None,
    help="Incident ID (default: scan every incident for interrupted work).",
)
@target_option
@archive_option
@json_option
def status_command(*, incident_id: str | None, target: Path, archive: Path, as_json: bool) -> None:
    """Show an incident's plans, its last operation, anything interrupted, and the lock.

    Without --incident, scan every incident of the archive for an operation
    that began and never ended (after a crash or a kill).
    """
    from runbook_lib.incident.ref import IncidentRef
    from runbook_lib.rollback.operations import rollback_status, scan_interrupted

    if incident_id is None:
        scan = scan_interrupted(target, archive)
        emit(scan, as_json=as_json, text="\n".join(scan_lines(scan)))
        return
    status = rollback_status(IncidentRef(target, archive, incident_id))
    emit(status, as_json=as_json, text="\n".join(status_lines(status)))


def _interrupted_text(item: Mapping[str, Any]) -> str:
    done = len(item.get("finished_steps") or ())
    at = item.get("last_intent")
    where = f"stopped during step {at + 1}" if at is not None else "stopped between steps"
    return f"{item['operation']} of plan {str(item['plan'])[:12]} {where} ({done} step(s) done)"


def _common_lines(data: Mapping[str, Any]) -> list[str]:
    lock = data.get("lock") or {}
    holder = lock.get("holder") or {}
    if lock.get("held"):
        lock_text = f"held by pid {holder.get('pid')} ({holder.get('command')})"
    elif lock.get("stale"):
        lock_text = f"stale: pid {holder.get('pid')} died holding it"
    else:
        lock_text = "free"
    env = data.get("rollback_env") or {}
    env_text = ", ".join(f"{k}={v}" for k, v in env.items()) or "none"
    return [f"target lock: {lock_text}", f"rollback env: {env_text}"]


def status_lines(status: Mapping[str, Any]) -> list[str]:
    """``rollback status --incident``: one readable line per fact."""
    last = status.get("last_completed")
    interrupted = status.get("interrupted")
    lines = [
        f"incident {status['incident']} ({status['state']}) on {status['target']}",
        f"plans: {', '.join(p[:12] for p in status['plans']) or 'none'}",
        "last completed: "
        + (f"{last['operation']} of plan {last['plan'][:12]}" if last else "nothing"),
        "interrupted: " + (_interrupted_text(interrupted) if interrupted else "nothing"),
    ]
    if interrupted:
        lines.append(
            f"  resume with: runbook rollback resume --incident {status['incident']}"
            " (or --revert to take it back)"
        )
    return lines + _common_lines(status)


def scan_lines(scan: Mapping[str, Any]) -> list[str]:
    """``rollback status`` without an incident: the interrupted work found, or that none was."""
    found = scan["interrupted"]
    lines = [
        f"scanned {scan['incidents_scanned']} incident(s) in {scan['archive']} "
        f"for interrupted work on {scan['target']}"
    ]
    if not found:
        lines.append("interrupted: nothing")
    for item in found:
        what = _interrupted_text(item)
        lines.append(f"interrupted: {item['incident']} ({item['title']}): {what}")
        lines.append(
            f"  resume with: runbook rollback resume --incident {item['incident']}"
            " (or --revert to take it back)"
        )
    return lines + _common_lines(scan)


@rollback.command("now")
@click.option("--title", default=DEFAULT_TITLE, show_default=True)
@yes_option
@dry_run_option
@target_option
@archive_option
@json_option
def now_command(
    *, title: str, yes: bool, dry_run: bool, target: Path, archive: Path, as_json: bool
) -> None:
    """Immediate rollback (seed 000 1.1, 3.1): critical incident and the env-var switch, at once."""
    from runbook_lib.rollback.operations import rollback_now

    confirm(f"Roll {target} back to the legacy env now?", yes, dry_run)
    result = rollback_now(target, archive, title, dry_run=dry_run)
    emit(result.to_dict(), as_json=as_json, text=now_text(result))
