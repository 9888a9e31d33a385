"""A session: one notebook's or workflow's view of the target, the archive and the incident.

:func:`start` resolves the three from a notebook's parameters and the
``RUNBOOK_*`` variables. Triage, recovery and the notebook facade
(:mod:`runbook_lib.app.nb`) all work on a :class:`Session`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook_lib.app.locations import Locations
from runbook_lib.base.errors import InvalidInputError
from runbook_lib.incident.model import Incident
from runbook_lib.incident.ref import IncidentRef
from runbook_lib.incident.store import incident_dir, load_incident, open_incident
from runbook_lib.target.manifest import Manifest, load_manifest


@dataclass(frozen=True)
class Session:
    """One notebook's view of the target, the archive and the incident."""

    manifest: Manifest
    archive: Path
    incident_id: str

    @property
    def target(self) -> Path:
        """The target's root."""
        return self.manifest.root

    @property
    def ref(self) -> IncidentRef:
        """The incident's handle, for the library's operations."""
        return IncidentRef(self.target, self.archive, self.incident_id)

    @property
    def directory(self) -> Path:
        """The incident's directory in the archive."""
        return incident_dir(self.archive, self.incident_id)

    def incident(self) -> Incident:
        """The incident as stored now."""
        return load_incident(self.archive, self.incident_id)


def _path(value: Any) -> Path | None:
    return Path(str(value)) if value else None


def start(params: Mapping[str, Any], *, open_with: Mapping[str, str] | None = None) -> Session:
    """Resolve the target, the archive and the incident for a notebook.

    ``params`` may hold ``target``, ``archive`` and ``incident`` (empty: the
    ``RUNBOOK_*`` variables, then the nearest runbook.toml and the target's
    default archive, exactly as the CLI resolves them: :mod:`.locations`).
    With ``open_with`` (title, severity, kind) and no incident, one is opened.

    Raises:
        InvalidInputError: no target, or no incident and nothing to open one with.
    """
    given = Locations(_path(params.get("target")), _path(params.get("archive")))
    manifest = load_manifest(given.resolve_target())
    archive = given.resolve_archive(target=manifest.root)
    incident = str(params.get("incident") or os.environ.get("RUNBOOK_INCIDENT") or "")
    if not incident:
        if not open_with:
            raise InvalidInputError(
                "no incident: set the 'incident' parameter (or $RUNBOOK_INCIDENT)",
                hint="open one with 'runbook incident open' or the triage notebook",
            )
        incident = open_incident(
            archive, open_with["title"], open_with["severity"], open_with["kind"]
        ).id
    load_incident(archive, incident)
    return Session(manifest, archive.resolve(), incident)
