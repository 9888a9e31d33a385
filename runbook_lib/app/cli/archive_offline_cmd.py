"""``runbook archive checkpoint``, ``bundle`` and ``verify-bundle``: evidence for offline review."""

from __future__ import annotations

from pathlib import Path

import click

from runbook_lib.app.cli.common import emit
from runbook_lib.app.cli.options import archive_option, json_option
from runbook_lib.base.errors import CheckFailedError, InvalidInputError


@click.command("checkpoint")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the checkpoint to this file.",
)
@archive_option
def checkpoint_command(out: Path | None, archive: Path) -> None:
    """Print a checkpoint of the transparency log (size, root), signed when a key is set.

    Keep it elsewhere (a ticket, a commit); 'archive verify --checkpoint FILE'
    later proves the archive still extends it.
    """
    from runbook_lib.base.fsutil import atomic_write_bytes
    from runbook_lib.evidence.attest import configured_key
    from runbook_lib.evidence.translog import checkpoint

    data = checkpoint(archive, configured_key(archive))
    if out is not None:
        atomic_write_bytes(out, data)
    click.echo(data.decode(), nl=False)


@click.command("bundle")
@click.argument("incident_id", metavar="ID")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The .tar.gz to write.",
)
@archive_option
@json_option
def bundle_command(incident_id: str, out: Path, archive: Path, as_json: bool) -> None:
    """Write an offline bundle (a BagIt bag with seal, signature and log proof) of an incident."""
    from runbook_lib.evidence.attest import configured_key
    from runbook_lib.evidence.offline import build_bundle
    from runbook_lib.incident.store import incident_dir

    directory = incident_dir(archive, incident_id)
    if not directory.is_dir():
        raise InvalidInputError(
            f"no incident {incident_id} in {archive}", hint="'runbook archive list' shows them"
        )
    count = build_bundle(archive, directory, out, configured_key(archive))
    emit(
        {"incident": incident_id, "bundle": str(out), "files": count},
        as_json=as_json,
        text=f"{out}  {count} files of {incident_id}",
    )


@click.command("verify-bundle")
@click.argument("bundle", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--pubkey",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="The public key the seal and checkpoint must be signed with.",
)
@json_option
def verify_bundle_command(bundle: Path, pubkey: Path | None, as_json: bool) -> None:
    """Verify an offline bundle with nothing else (no archive, no index, no network)."""
    from runbook_lib.evidence.attest import load_public_key
    from runbook_lib.evidence.offline import verify_bundle

    trusted = load_public_key(pubkey) if pubkey is not None else None
    problems = verify_bundle(bundle, trusted)
    lines = [f"{'FAIL' if problems else 'ok  '}  {bundle}"] + [f"  {p}" for p in problems]
    emit(
        {"bundle": str(bundle), "ok": not problems, "problems": problems},
        as_json=as_json,
        text="\n".join(lines),
    )
    if problems:
        raise CheckFailedError(f"the bundle does not verify: {problems[0]}")
