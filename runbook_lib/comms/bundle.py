"""The post-mortem bundle: one ``.tar.gz`` with the incident and an ``index.html``.

The archive holds ``<ID>/index.html`` (incident, timeline, runs with their
status and links to their HTML, decisions, parity numbers with the plots
inlined, the change each rollback applied as a diff (:mod:`.changes`), the
checks, the seal's signature status, messages, file hashes and the
verification result at the time the bundle was made) and the incident
directory itself as ``<ID>/incident/``. The page reads offline and prints to
PDF: no script, no remote resource, print styles that keep rows whole. The
bundle is written to a temporary file and renamed, so a crash never leaves
half of one.
"""

from __future__ import annotations

import base64
import io
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.fsutil import atomic_writer, iter_files
from runbook_lib.base.timefmt import duration_text, utc_time
from runbook_lib.comms.changes import applied_changes
from runbook_lib.evidence.findings import VerifyReport
from runbook_lib.evidence.layout import SEAL_PROOF
from runbook_lib.evidence.seal import verify_or_note
from runbook_lib.evidence.sealproof import parse_proof_file
from runbook_lib.evidence.summary import IncidentEvidence, gather

TEMPLATES = Path(__file__).parent / "templates"
_SKIPPED_SUFFIXES = (".lock",)


def parity_view(evidence: IncidentEvidence) -> dict[str, Any] | None:
    """The parity run's verdicts, numbers (in %) and plots, as the report shows them."""
    from runbook_lib.parity.decision import speed_outcome

    parity = evidence.parity
    if not parity:
        return None
    ci = parity.get("throughput_ci_pct")
    speed, good = speed_outcome(
        parity.get("throughput_regression_pct"), (float(ci[0]), float(ci[1])) if ci else None
    )
    metrics = [
        {
            "metric": m.get("metric", name),
            "difference": f"{100 * float(m.get('relative_difference') or 0):+.2f}%",
            "ci": f"{100 * float(m.get('ci_low') or 0):+.2f}% .. "
            f"{100 * float(m.get('ci_high') or 0):+.2f}%",
            "margin": f"±{100 * float(m.get('margin') or 0):g}%",
            "verdict": m.get("verdict", ""),
        }
        for name, m in (parity.get("metrics") or {}).items()
    ]
    names = sorted(
        (n for n in evidence.files if n.startswith("parity/") and n.endswith(".png")),
        key=lambda name: (not name.endswith("throughput.png"), name),  # the speed verdict first
    )
    plots = [{"name": name, "src": _data_uri(evidence.directory / name)} for name in names]
    return {
        "results": parity.get("verdict", ""),
        "reason": parity.get("reason", ""),
        "speed": speed,
        "speed_good": good,
        "episodes": parity.get("episodes"),
        "step_agreement": f"{100 * float(parity.get('step_agreement') or 0):.2f}%",
        "metrics": metrics,
        "plots": plots,
    }


def _data_uri(path: Path) -> str:
    """The PNG inlined, so the page shows it printed, mailed or opened outside the bundle."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _envelope_keys(incident_dir: Path) -> list[str]:
    try:
        sealed = parse_proof_file((incident_dir / SEAL_PROOF).read_bytes())
        envelope = sealed.envelope if sealed is not None else None
        return [str(s.get("keyid")) for s in envelope.get("signatures", [])] if envelope else []
    except (OSError, ValueError, AttributeError, TypeError):
        return []


@dataclass(frozen=True)
class SignatureStatus:
    """The seal's signature as verification found it.

    ``good`` is True when signed by the trusted key, False when verification
    found a signature problem, None when nothing is proven (unsigned, or no
    key to check against). ``key_ids`` are the keys the envelope names.
    """

    text: str
    good: bool | None
    key_ids: tuple[str, ...]


def signature_view(verify: VerifyReport, incident_dir: Path) -> SignatureStatus:
    """The seal's signature status, in verification's own words."""
    words = [p for p in verify.problems if p.startswith(("signature", "unsigned"))]
    good: bool | None = False if words else None
    if not words:
        words = [n for n in verify.notes if n.startswith(("signed", "unsigned", "not sealed"))]
        good = True if any(n.startswith("signed by") for n in words) else None
    text = "; ".join(words) or "no signature status (see verification)"
    return SignatureStatus(text, good, tuple(_envelope_keys(incident_dir)))


def _when(value: Any) -> str:
    """A time (ISO text, datetime or epoch seconds) as ``2026-12-02 11:26:22`` in UTC.

    The page says UTC once per column; no fraction of a second, no offset.
    """
    return utc_time(value, seconds=True, zone=False)


_CELL_CSS = {"pass": "pass", "fail": "fail"}
_VERDICT_CSS = {"ready": "pass", "not ready": "fail"}


def readiness_view(evidence: IncidentEvidence) -> dict[str, Any] | None:
    """The latest readiness matrix recorded in the incident, as the report shows it."""
    from runbook_lib.verify.readiness_matrix import latest_readiness

    data = latest_readiness(evidence.directory)
    if not data:
        return None
    phases = [str(phase) for phase in data.get("phases", [])]
    rows = []
    for row in data.get("strategies", []):
        cells = []
        for phase in phases:
            cell = row["cells"].get(phase, {})
            status = str(cell.get("status", ""))
            text = str(cell.get("reason") or status) if status == "fail" else status
            cells.append({"text": text, "css": _CELL_CSS.get(status, "")})
        verdict = str(row.get("readiness", ""))
        rows.append(
            {
                "strategy": row.get("strategy", ""),
                "cells": cells,
                "readiness": verdict,
                "css": _VERDICT_CSS.get(verdict, "warn"),
            }
        )
    tree = data.get("target_tree") or {}
    return {
        "head": str(data.get("head", ""))[:12],
        "rehearsed_at": data.get("rehearsed_at", ""),
        "incident": data.get("incident", ""),
        "ready": bool(data.get("ready")),
        "tree_unchanged": tree.get("before") == tree.get("after"),
        "phases": phases,
        "rows": rows,
    }


def _parameters_text(parameters: Any) -> str:
    if not parameters:
        return "defaults"
    return "; ".join(f"{k} = {v}" for k, v in dict(parameters).items())


def render_index(evidence: IncidentEvidence, verify: VerifyReport) -> str:
    """The bundle's ``index.html``."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    env.filters["params"] = _parameters_text
    env.filters["when"] = _when
    env.filters["duration"] = duration_text
    return env.get_template("report.html.j2").render(
        incident=evidence.incident,
        seal=evidence.seal,
        verify=verify,
        timeline=evidence.timeline(),
        runs=evidence.runs,
        decisions=evidence.decisions,
        checks=evidence.checks,
        comms=evidence.comms,
        files=evidence.files,
        prefix="incident",
        parity=parity_view(evidence),
        changes=applied_changes(evidence.directory, evidence.journal),
        signature=signature_view(verify, evidence.directory),
        readiness=readiness_view(evidence),
        made_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(datetime.now(UTC).timestamp())
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def default_report_path(archive_dir: Path, incident_id: str) -> Path:
    """``<archive>/reports/<ID>.tar.gz``: outside the incident, so the seal stays intact."""
    return archive_dir / "reports" / f"{incident_id}.tar.gz"


def write_report(
    archive_dir: Path,
    incident_id: str,
    out: Path | None = None,
    secret_names: list[str] | None = None,
) -> Path:
    """Write the post-mortem bundle of an incident; return its path.

    Raises:
        InvalidInputError: no such incident, or ``out`` lies inside the incident
            directory (the bundle would change the evidence it describes).
    """
    evidence = gather(archive_dir, incident_id)
    out = (out or default_report_path(archive_dir, evidence.incident.id)).resolve()
    if out.is_relative_to(evidence.directory.resolve()):
        raise InvalidInputError(
            f"--out {out} lies inside the incident directory",
            hint="write the bundle anywhere outside it",
        )
    verify = verify_or_note(archive_dir, evidence.directory, secret_names or [])
    page = render_index(evidence, verify).encode("utf-8")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(out, mode=0o644) as handle, tarfile.open(fileobj=handle, mode="w:gz") as tar:
        root = evidence.incident.id
        _add_bytes(tar, f"{root}/index.html", page)
        for path in iter_files(evidence.directory):
            if not path.name.endswith(_SKIPPED_SUFFIXES):
                relative = path.relative_to(evidence.directory).as_posix()
                tar.add(path, arcname=f"{root}/incident/{relative}", recursive=False)
    return out
