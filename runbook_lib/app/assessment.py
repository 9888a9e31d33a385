"""Seed 003 Phase 1 (assessment and preparation) as data, for one target.

Step 2 of seed 003 asks to check the current system state, verify backup
availability, confirm the rollback target version and ensure the rollback tools
are available; seed 000 adds which env the factory resolves to. :func:`assess`
gathers all of it read-only, and :func:`decide_incident` runs the decision tree
on the operator's facts and records the decision with the incident.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook_lib.base.errors import RunbookError
from runbook_lib.base.fsutil import atomic_write_text
from runbook_lib.base.report import CheckResult
from runbook_lib.decide.tree import Assessment, Decision, decide
from runbook_lib.evidence import index
from runbook_lib.evidence.layout import DECISION_FILE
from runbook_lib.incident.store import advance_incident, incident_dir, load_incident
from runbook_lib.rollback.actions import pyedit
from runbook_lib.rollback.actions.package import installed
from runbook_lib.target import inifile
from runbook_lib.target.envfile import read_rollback_env
from runbook_lib.target.gitutil import git, ref_exists
from runbook_lib.target.manifest import Manifest
from runbook_lib.target.specs import ForceFlag

TOOLS = ("git", "pip", "systemctl", "sha256sum")


@dataclass(frozen=True)
class SystemState:
    """What the target looks like now (seed 003 step 2, seed 000 §1)."""

    git_head: str
    git_describe: str
    git_dirty: list[str]
    stable_ref: str
    stable_ref_exists: bool
    switches: dict[str, Any]
    packages: dict[str, Any]
    service: dict[str, Any]
    backups: dict[str, Any]
    tools: dict[str, str | None]
    resolved_env: CheckResult | None = None
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["resolved_env"] = self.resolved_env.to_dict() if self.resolved_env else None
        return data


def _force_flag_state(manifest: Manifest, flag: ForceFlag) -> str:
    """``NAME = value``, or the finding that the target has no such constant."""
    from runbook_lib.rollback.honoured import force_flag_problem

    problem = force_flag_problem(manifest)
    if problem is not None:
        return f"not honoured: {problem}"
    source = (manifest.root / flag.file).read_text(encoding="utf-8")
    return f"{flag.constant} = {pyedit.read_constant(source, flag.constant, filename=flag.file)!r}"


def _switches(manifest: Manifest) -> dict[str, Any]:
    env = manifest.env
    if env is None:
        return {}
    state: dict[str, Any] = {"rollback_env": read_rollback_env(manifest.root)}
    if env.config is not None:
        text = (manifest.root / env.config.file).read_text(encoding="utf-8")
        value = inifile.read_value(text, env.config.section, env.config.key)
        state["config"] = f"[{env.config.section}] {env.config.key} = {value.value}"
    if env.force_flag is not None:
        state["force_flag"] = _force_flag_state(manifest, env.force_flag)
    if env.call_site is not None:
        source = (manifest.root / env.call_site.file).read_text(encoding="utf-8")
        calls = pyedit.find_calls(source, env.call_site.function, filename=env.call_site.file)
        keywords = [k.arg for call in calls for k in call.keywords]
        passes = env.call_site.keyword in keywords
        state["call_site"] = f"{env.call_site.file}: {env.call_site.keyword} " + (
            "passed" if passes else "not passed"
        )
    return state


def _packages(manifest: Manifest) -> dict[str, Any]:
    spec = manifest.package
    if spec is None:
        return {}
    wheels = sorted(p.name for p in (manifest.root / spec.wheelhouse).glob("*.whl"))
    versions = [d.version for d in installed(manifest.root / spec.site_dir, spec.name)]
    return {
        "name": spec.name,
        "installed": versions,
        "stable": spec.stable_version,
        "release": spec.release_version,
        "wheels": wheels,
    }


def _service(manifest: Manifest) -> dict[str, Any]:
    if manifest.service is None:
        return {}
    from runbook_lib.rollback.actions.servicectl import adapter_for

    return adapter_for(manifest.service, manifest.root).status().to_dict()


def _backups(manifest: Manifest) -> dict[str, Any]:
    if manifest.backups is None:
        return {}
    from runbook_lib.rollback.actions.backup import latest_backup
    from runbook_lib.target.checksums import verify_directory

    try:
        latest = latest_backup(manifest.root / manifest.backups.dir)
    except RunbookError as err:
        return {"available": False, "problem": str(err)}
    report = verify_directory(latest, manifest.backups.checksum_file)
    return {
        "available": True,
        "latest": latest.relative_to(manifest.root).as_posix(),
        "intact": report.passed,
        "problems": report.problems(),
        "files": list(report.ok),
    }


def assess(manifest: Manifest, *, resolve_env: bool = True) -> SystemState:
    """Gather the target's state without changing anything."""
    root = manifest.root
    dirty = [line for line in git(root, ["status", "--porcelain"]).splitlines() if line]
    resolved = None
    if resolve_env and manifest.env is not None:
        from runbook_lib.verify.checks.env import check_factory_resolution

        resolved = check_factory_resolution(manifest)
    state = SystemState(
        git_head=git(root, ["rev-parse", "HEAD"]).strip(),
        git_describe=git(root, ["describe", "--tags", "--always", "--dirty"]).strip(),
        git_dirty=dirty,
        stable_ref=manifest.git.stable_ref,
        stable_ref_exists=ref_exists(root, manifest.git.stable_ref),
        switches=_switches(manifest),
        packages=_packages(manifest),
        service=_service(manifest),
        backups=_backups(manifest),
        tools={tool: shutil.which(tool) for tool in TOOLS} | {"python": sys.executable},
        resolved_env=resolved,
    )
    return _with_problems(state)


def _with_problems(state: SystemState) -> SystemState:
    problems = []
    if not state.stable_ref_exists:
        problems.append(f"the rollback target {state.stable_ref} does not exist in git")
    if state.backups and not state.backups.get("intact", False):
        problems.append(
            "no intact backup: "
            + "; ".join(state.backups.get("problems", []) or [state.backups.get("problem", "")])
        )
    if state.tools.get("git") is None:
        problems.append("git is not on PATH: the code rollback needs it")
    return replace(state, problems=problems)


def decide_incident(
    archive: Path, incident_id: str, facts: Assessment, *, advance: bool = True
) -> Decision:
    """Run the decision tree, record it with the incident and in the index."""
    decision = decide(facts)
    directory = incident_dir(archive, incident_id)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    text = json.dumps(decision.to_dict(), indent=2, sort_keys=True) + "\n"
    atomic_write_text(directory / DECISION_FILE, text)
    index.add_decision(
        archive,
        incident_id,
        stamp,
        {"decision": decision.outcome, "strategy": decision.strategy, **decision.to_dict()},
    )
    if advance and load_incident(archive, incident_id).state in {"opened", "assessed"}:
        advance_incident(archive, incident_id, "assessed", note=f"decision: {decision.outcome}")
    return decision
