"""``runbook keys``: make the Ed25519 keypair that signs the archive's seals."""

from __future__ import annotations

from pathlib import Path

import click

from runbook_lib.app.cli.common import OneLineGroup, emit
from runbook_lib.app.cli.options import ARCHIVE_HELP, json_option, locations
from runbook_lib.base.errors import InvalidInputError


@click.group("keys", cls=OneLineGroup)
def keys_group() -> None:
    """Make the Ed25519 keypair that signs the archive's seals."""


@keys_group.command("generate")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The private key's path (mode 0600); the public key goes to OUT.pub. "
    "Never inside the archive.",
)
@click.option(
    "--archive",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help=ARCHIVE_HELP + " The key is refused inside it.",
)
@json_option
def generate_command(out: Path, archive: Path | None, as_json: bool) -> None:
    """Write a new keypair; point RUNBOOK_SIGNING_KEY at the private key to sign seals."""
    from runbook_lib.evidence.attest import fingerprint, generate_keypair, load_public_key

    private, public = generate_keypair(out, _archive_if_known(archive))
    print_id = fingerprint(load_public_key(public))
    emit(
        {"private_key": str(private), "public_key": str(public), "fingerprint": print_id},
        as_json=as_json,
        text=f"private key {private} (0600)\npublic key  {public}\nfingerprint {print_id}",
    )


def _archive_if_known(given: Path | None) -> Path | None:
    """The archive to keep the key out of; none is needed to make a key."""
    try:
        return locations().resolve_archive(given)
    except InvalidInputError:
        return None  # no target and no archive: nothing the key could land in
