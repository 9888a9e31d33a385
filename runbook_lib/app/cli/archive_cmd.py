"""``runbook archive``: list, show, verify, bundle and push the evidence of incidents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from runbook_lib.app.cli.archive_offline_cmd import (
    bundle_command,
    checkpoint_command,
    verify_bundle_command,
)
from runbook_lib.app.cli.common import OneLineGroup, emit
from runbook_lib.app.cli.options import archive_option, json_option, optional_target_option
from runbook_lib.base.errors import CheckFailedError, InvalidInputError
from runbook_lib.base.progress import StepProgress
from runbook_lib.target.manifest import load_manifest

incident_argument = click.argument("incident_id", metavar="ID")


def _secret_names(target: Path | None, given: tuple[str, ...]) -> list[str]:
    """``--secret`` names plus the ``secrets`` of the target's manifest, if there is one."""
    names = list(given)
    if target is not None:
        names += load_manifest(target).secrets
    return list(dict.fromkeys(names))


@click.group("archive", cls=OneLineGroup)
def archive_group() -> None:
    """List, show, verify and bundle the evidence archive of incidents.

    Every incident directory is sealed after each run: a manifest of every file
    with its sha256, anchored in the archive's index, and a hash chain of the
    run records. 'verify' recomputes all of it.
    """


@archive_group.command("list")
@archive_option
@json_option
def list_command(archive: Path, as_json: bool) -> None:
    """List incidents with their state, run count and last seal."""
    from runbook_lib.evidence import index
    from runbook_lib.evidence.chain import read_chain
    from runbook_lib.incident.store import incident_dir, list_incidents

    seals = {
        row["incident"]: row["sealed_at"]
        for row in index.query(archive, "SELECT incident, sealed_at FROM seals")
    }
    items: list[dict[str, Any]] = []
    for item in list_incidents(archive):
        runs = read_chain(incident_dir(archive, item.id))
        items.append(
            {
                "id": item.id,
                "state": item.state,
                "severity": item.severity,
                "title": item.title,
                "runs": len(runs),
                "failed_runs": sum(r.get("status") != "ok" for r in runs),
                "sealed_at": seals.get(item.id),
            }
        )
    from runbook_lib.base.timefmt import utc_time

    rows = [f"{'ID':<22}  {'STATE':<11}  {'RUNS':>4}  {'LAST SEAL':<23}  TITLE"]
    rows += [
        f"{i['id']:<22}  {i['state']:<11}  {i['runs']:>4}  "
        f"{utc_time(i['sealed_at'], seconds=True):<23}  {i['title']}"
        for i in items
    ]
    text = "\n".join(rows) if items else f"no incidents in {archive}"
    emit({"archive": str(archive), "incidents": items}, as_json=as_json, text=text)


@archive_group.command("show")
@incident_argument
@archive_option
@json_option
def show_command(incident_id: str, archive: Path, as_json: bool) -> None:
    """Show an incident's runs, decisions, checks, timeline and files."""
    from runbook_lib.base.timefmt import utc_time
    from runbook_lib.evidence.summary import gather

    evidence = gather(archive, incident_id)
    item = evidence.incident
    seal = evidence.seal
    lines = [
        f"{item.id}  {item.severity} {item.kind}  state {item.state}",
        f"title: {item.title}",
        f"sealed: {utc_time(seal['sealed_at'], seconds=True) if seal else 'never'}",
        "runs:",
    ]
    lines += [
        f"  {r['seq']:>2}  {r['status']:<6}  {r['notebook']}  ({r['output']})"
        for r in evidence.runs
    ] or ["  (none)"]
    lines.append("decisions:")
    lines += [
        f"  {utc_time(d['decided_at'], seconds=True)}  {d['decision']}  strategy {d['strategy']}"
        for d in evidence.decisions
    ] or ["  (none)"]
    lines.append("checks:")
    lines += [
        f"  {c['status']:<4}  {c['name']}: {c['summary']}  [{c['source']}]" for c in evidence.checks
    ] or ["  (none)"]
    lines.append("timeline:")
    lines += [f"  {utc_time(e.at, seconds=True)}  {e.text}" for e in evidence.timeline()]
    lines += _open_run_lines(evidence.directory)
    lines.append(f"files: {len(evidence.files)} in {evidence.directory}")
    emit(evidence.to_dict(), as_json=as_json, text="\n".join(lines))


def _open_run_lines(directory: Path) -> list[str]:
    from runbook_lib.evidence.started import open_runs, run_in_progress

    runs = open_runs(directory)
    state = "in progress" if run_in_progress(directory) else "interrupted"
    return [
        f"{state} {run.describe()}: started {run.record['started_at']} by "
        f"{run.record['started_by']}"
        for run in runs
    ]


@archive_group.command("seal")
@incident_argument
@archive_option
@json_option
def seal_command(incident_id: str, archive: Path, as_json: bool) -> None:
    """Seal an incident written by other means, recording who sealed its unrecorded files.

    Files no runbook writer recorded are named in a journal record with who
    sealed them; any other change since the last seal stays a finding.
    """
    import getpass

    from runbook_lib.evidence.amend import seal_by_hand
    from runbook_lib.incident.store import incident_dir

    directory = incident_dir(archive, incident_id)
    if not directory.is_dir():
        raise InvalidInputError(
            f"no incident {incident_id} in {archive}", hint="'runbook archive list' shows them"
        )
    who = getpass.getuser()
    adopted = seal_by_hand(archive, directory, who)
    lines = [f"sealed {incident_id} by {who}: {len(adopted)} unrecorded file(s)"]
    lines += [f"  {name}" for name in adopted]
    emit(
        {"incident": incident_id, "sealed_by": who, "unrecorded_files": adopted},
        as_json=as_json,
        text="\n".join(lines),
    )


for _offline in (checkpoint_command, bundle_command, verify_bundle_command):
    archive_group.add_command(_offline)


@archive_group.command("push")
@incident_argument
@click.option(
    "--to",
    "url",
    required=True,
    metavar="URL",
    help="Destination: s3://bucket/prefix, file://DIR or a directory. The incident "
    "goes to URL/ID/.",
)
@archive_option
@json_option
def push_command(incident_id: str, url: str, archive: Path, as_json: bool) -> None:
    """Copy a sealed incident to object storage, then verify the remote copy.

    The incident must verify locally. Objects already there with the sealed
    sha256 are skipped and unfinished multipart uploads resumed, so an
    interrupted push is finished by running it again.
    """
    from runbook_lib.evidence.remote import push_incident

    with StepProgress.for_command(as_json=as_json).step(f"push: {incident_id} to {url}"):
        report = push_incident(archive, incident_id, url)
    verify = report.verify
    lines = [
        f"{'ok  ' if report.ok else 'FAIL'}  {incident_id} -> {url}",
        f"  uploaded {len(report.uploaded)} ({report.bytes_uploaded} bytes), "
        f"skipped {len(report.skipped)} already there, resumed {len(report.resumed)}",
    ]
    if verify is not None:
        lines.append(f"  verified {verify.files_checked} files, {verify.runs_checked} runs")
        lines += [f"  {problem}" for problem in verify.problems]
    emit(report.to_dict(), as_json=as_json, text="\n".join(lines))
    if verify is not None and verify.problems:
        raise CheckFailedError(
            f"the remote copy of {incident_id} does not verify: {verify.problems[0]}"
        )


def _verify_remote(
    incident_id: str | None, url: str, archive: Path, pubkey: Path | None, as_json: bool
) -> None:
    from runbook_lib.evidence.attest import load_public_key
    from runbook_lib.evidence.remote import verify_remote

    if incident_id is None:
        raise InvalidInputError(
            "--from needs an incident ID", hint="runbook archive verify ID --from URL"
        )
    trusted = load_public_key(pubkey) if pubkey is not None else None
    report = verify_remote(url, incident_id, archive, trusted)
    lines = [report.line(f" at {url}")]
    lines += [f"  {problem}" for problem in report.problems]
    emit({"url": url, **report.to_dict()}, as_json=as_json, text="\n".join(lines))
    if report.problems:
        raise CheckFailedError(
            f"the remote copy of {incident_id} does not verify: "
            f"{len(report.problems)} problem(s), first: {report.problems[0]}"
        )


@archive_group.command("verify")
@click.argument("incident_id", metavar="[ID]", required=False)
@click.option(
    "--from",
    "url",
    default=None,
    metavar="URL",
    help="Verify the copy pushed to URL (s3://bucket/prefix, file://DIR, a "
    "directory) instead of the local one; its manifest is proven by the pushed "
    "signature (--pubkey) and inclusion proof, and checked against the local "
    "index's seal when there is one.",
)
@click.option(
    "--secret",
    "secrets",
    multiple=True,
    metavar="NAME",
    help="Also scan for the value of this environment variable (repeatable).",
)
@click.option(
    "--pubkey",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="The public key the seals must be signed with (default: that of RUNBOOK_SIGNING_KEY).",
)
@click.option(
    "--checkpoint",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="A checkpoint kept elsewhere ('archive checkpoint'): prove "
    "the log still extends it and every incident is at its last logged seal.",
)
@optional_target_option
@archive_option
@json_option
def verify_command(
    *,
    incident_id: str | None,
    url: str | None,
    secrets: tuple[str, ...],
    pubkey: Path | None,
    checkpoint: Path | None,
    target: Path | None,
    archive: Path,
    as_json: bool,
) -> None:
    """Recompute every hash and link; exit 1 naming anything modified, missing or added.

    Without ID, every incident of the archive is verified. The values of the
    declared secrets (the manifest's 'secrets' and each --secret) must appear
    in no archived file. With --from URL, the pushed copy of ID is verified.
    """
    if url is not None:
        _verify_remote(incident_id, url, archive, pubkey, as_json)
        return
    from runbook_lib.evidence.attest import load_public_key
    from runbook_lib.evidence.findings import UNSIGNED
    from runbook_lib.evidence.seal import verify_archive, verify_or_note
    from runbook_lib.incident.store import incident_dir

    names = _secret_names(target, secrets)
    trusted = load_public_key(pubkey) if pubkey is not None else None
    if incident_id is not None:
        directory = incident_dir(archive, incident_id)
        if not directory.is_dir():
            raise InvalidInputError(
                f"no incident {incident_id} in {archive}", hint="'runbook archive list' shows them"
            )
        reports = [verify_or_note(archive, directory, names, trusted)]
    else:
        reports = verify_archive(archive, names, trusted)
    problems = [f"{r.incident}: {p}" for r in reports for p in r.problems]
    if checkpoint is not None:
        from runbook_lib.evidence.translog import verify_checkpoint

        problems += verify_checkpoint(archive, checkpoint.read_bytes(), trusted)
    lines = [r.line() for r in reports]
    lines += [f"  {problem}" for problem in problems]
    unsigned = [r.incident for r in reports if r.unsigned]
    data = {
        "archive": str(archive),
        "ok": not problems and not unsigned,
        "consistent": not problems,
        "verdict": "failed" if problems else UNSIGNED if unsigned else "ok",
        "secrets_scanned": names,
        "incidents": [r.to_dict() for r in reports],
    }
    emit(data, as_json=as_json, text="\n".join(lines) or f"no incidents in {archive}")
    if problems:
        raise CheckFailedError(
            f"archive verification failed: {len(problems)} problem(s), first: {problems[0]}"
        )


@archive_group.command("report")
@incident_argument
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Where to write the .tar.gz (default: ARCHIVE/reports/<ID>.tar.gz).",
)
@archive_option
@json_option
def report_command(incident_id: str, out: Path | None, archive: Path, as_json: bool) -> None:
    """Write one self-contained post-mortem bundle (.tar.gz with index.html) of an incident."""
    from runbook_lib.comms.bundle import write_report

    path = write_report(archive, incident_id, out, _secret_names(None, ()))
    emit({"incident": incident_id, "report": str(path)}, as_json=as_json, text=str(path))
