"""Where the signing key is configured, without importing any crypto.

``$RUNBOOK_SIGNING_KEY`` wins, else the target manifest's ``[evidence]
signing_key``. A seal asks this first: without a configured key it needs none
of the ``cryptography`` package (tens of milliseconds to import), as in every
``runbook rollback now`` with no key set. :mod:`runbook_lib.evidence.attest`
loads and checks the key itself.
"""

from __future__ import annotations

import os
from pathlib import Path

SIGNING_KEY_ENV = "RUNBOOK_SIGNING_KEY"


def _manifest_key() -> Path | None:
    """``[evidence] signing_key`` of the target (``$RUNBOOK_TARGET``, else the nearest manifest)."""
    from runbook_lib.target.manifest import MANIFEST_NAME, load_manifest

    given = os.environ.get("RUNBOOK_TARGET", "")
    start = Path(given) if given else Path.cwd()
    for directory in (start.resolve(), *start.resolve().parents):
        if (directory / MANIFEST_NAME).is_file():
            manifest = load_manifest(directory)
            return manifest.root / manifest.signing_key if manifest.signing_key else None
        if given:
            return None
    return None


def key_path() -> tuple[Path, str] | None:
    """Where the signing key is, and who named it.

    ``$RUNBOOK_SIGNING_KEY`` wins; else the target manifest's ``[evidence]
    signing_key`` (relative to the target's root, or absolute); else none.
    """
    name = os.environ.get(SIGNING_KEY_ENV)
    if name:
        return Path(name), f"${SIGNING_KEY_ENV}"
    path = _manifest_key()
    return (path, "[evidence] signing_key") if path is not None else None
