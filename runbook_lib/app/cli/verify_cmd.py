"""``runbook verify``: run the verification checklist and keep the results in the incident."""

from __future__ import annotations

from pathlib import Path

import click

from runbook_lib.app.cli.common import emit
from runbook_lib.app.cli.options import OneLineCommand, archive_option, json_option, target_option
from runbook_lib.base.errors import CheckFailedError
from runbook_lib.base.progress import StepProgress
from runbook_lib.verify.registry import EXPECT_CHOICES, REGISTRY
from runbook_lib.verify.runner import VerifyReport


def _names(value: str | None) -> list[str]:
    return [name.strip() for name in (value or "").split(",") if name.strip()]


def _text(report: VerifyReport) -> str:
    version = report.extra.get("expected_version")
    expecting = f"the {report.expect} version" + (f" {version}" if version else "")
    lines = [f"verify {report.incident} on {report.target} (expecting {expecting})"]
    for result in report.results:
        blocking = "" if result.blocking else " (non-blocking)"
        lines.append(
            f"  {result.status:<4}  {result.name}{blocking} [{result.duration_s:.1f} s]: "
            f"{result.summary}"
        )
    verdict = "ok" if report.ok else "FAILED: " + ", ".join(report.failed_blocking)
    lines += [f"result: {verdict}", f"saved: {report.path}"]
    return "\n".join(lines)


CHECKS_HELP = (
    "Comma-separated checks to run (default: the checklist of the rollback in "
    "effect, or all): " + ", ".join(REGISTRY) + ". Old names (check_env, "
    "service.health, ...) still work, with a deprecation note."
)


@click.command("verify", cls=OneLineCommand)
@click.option("--incident", "incident_id", required=True, help="Incident ID.")
@click.option("--checks", "checks", default=None, metavar="NAME,...", help=CHECKS_HELP)
@click.option(
    "--expect",
    type=click.Choice(EXPECT_CHOICES),
    default="auto",
    show_default=True,
    help="What the target should run: 'stable' (after sac-full) or 'release'; "
    "'auto' reads the rollback in effect from the incident's journal.",
)
@click.option(
    "--start-service",
    is_flag=True,
    help="Start the service (and leave it running) if a selected check needs it; "
    "otherwise those checks skip when it is not running.",
)
@target_option
@archive_option
@json_option
def verify(
    *,
    incident_id: str,
    checks: str | None,
    expect: str,
    start_service: bool,
    target: Path,
    archive: Path,
    as_json: bool,
) -> None:
    """Run the verification checks; exit 1 when a blocking check fails.

    The results go to ARCHIVE/incidents/<ID>/checks/verify-<timestamp>.json.
    """
    from runbook_lib.evidence.amend import sealing
    from runbook_lib.incident.ref import IncidentRef
    from runbook_lib.verify.runner import run_verify

    progress = StepProgress.for_command(as_json=as_json)
    step = progress.step("verify: running the checks")
    with sealing(archive, incident_id), step:  # the results are sealed with the incident
        report = run_verify(
            IncidentRef(target, archive, incident_id),
            checks=_names(checks),
            expect=expect,
            start_service=start_service,
            progress=progress,
        )
    emit(report.to_dict(), as_json=as_json, text=_text(report))
    if not report.ok:
        raise CheckFailedError(
            f"blocking check(s) failed: {', '.join(report.failed_blocking)}",
            hint=f"see {report.path}",
        )
