"""``runbook notify``: write (and post) one of the seeds' messages for an incident."""

from __future__ import annotations

from pathlib import Path

import click

from runbook_lib.app.cli.common import OneLineCommand, emit
from runbook_lib.app.cli.options import archive_option, json_option, optional_target_option
from runbook_lib.comms.messages import IMPACTS, TEMPLATES
from runbook_lib.target.manifest import Manifest, load_manifest

_RESOLUTIONS = {"fixed": "Fixed", "documented": "Documented as expected behavior"}


def _manifest(target: Path | None) -> Manifest | None:
    # No target around: the message is written, not posted.
    return load_manifest(target) if target is not None else None


@click.command("notify", cls=OneLineCommand)
@click.option("--incident", "incident_id", required=True, help="Incident ID.")
@click.option(
    "--template",
    required=True,
    type=click.Choice(list(TEMPLATES)),
    help="Which message (seed 000 §5, seed 003 Communication Templates).",
)
@click.option(
    "--post/--no-post",
    default=True,
    show_default=True,
    help="Post it to the manifest's webhook (if one is configured).",
)
@click.option(
    "--impact",
    multiple=True,
    type=click.Choice(IMPACTS),
    help="What the issue affects (repeatable; issue-report, initial).",
)
@click.option("--eta", default=None, help="Expected fix or completion time, as text.")
@click.option(
    "--resolution",
    type=click.Choice(list(_RESOLUTIONS)),
    default=None,
    help="For 'resolution': fixed, or documented as expected behaviour.",
)
@click.option("--note", "notes", default="", help="Notes, or lessons learned for 'completion'.")
@optional_target_option
@archive_option
@json_option
def notify_command(
    *,
    incident_id: str,
    template: str,
    post: bool,
    impact: tuple[str, ...],
    eta: str | None,
    resolution: str | None,
    notes: str,
    target: Path | None,
    archive: Path,
    as_json: bool,
) -> None:
    """Render a message from the incident's records into ARCHIVE/incidents/<ID>/comms/.

    \b
    Templates:
      issue-report  seed 000 §5 Issue Notification
      resolution    seed 000 §5 Resolution Notification
      initial       seed 003 Initial Notification
      progress      seed 003 Progress Update (posting one meets the 4-hourly
                    stakeholder-update obligation)
      completion    seed 003 Completion Notification

    A post that fails after 3 attempts is recorded in the journal and as a
    .failed.json note; the command still succeeds, so a rollback never waits on it.
    """
    from runbook_lib.comms.notify import notify

    overrides: dict[str, object] = {"impact": list(impact), "notes": notes}
    if eta:
        overrides["eta"] = eta
    if resolution:
        overrides["resolution"] = _RESOLUTIONS[resolution]
    report = notify(
        archive, incident_id, template, manifest=_manifest(target), post=post, overrides=overrides
    )
    if report.posted:
        status = f"posted to {report.webhook}"
    elif report.failure_note:
        status = f"NOT posted ({report.post.error if report.post else report.not_posted_because}); "
        status += f"recorded in {report.failure_note}"
    else:
        status = f"not posted: {report.not_posted_because}"
    lines = [f"{report.subject}", f"  written  {report.path}", f"  {status}"]
    if report.stakeholder_update_met:
        lines.append("  stakeholder-update obligation met")
    emit(report.to_dict(), as_json=as_json, text="\n".join(lines))
