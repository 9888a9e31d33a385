"""``runbook drill``: an incident drill on a fresh sandbox, headless, end to end.

A drill materializes the sandbox, injects its scenario's fault, opens an
incident and runs the runbook notebooks in order with papermill, exactly as
CI or an on-call engineer would: assessment -> rollback -> parity ->
verification -> (recovery, when the scenario includes a fix) -> post-mortem.
It ends with the archive verified. This layer sits above the core: with the
CLI, it is the only place that imports :mod:`runbook_lib.sandbox`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook_lib.base.checknames import record_check_name
from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.progress import StepProgress
from runbook_lib.decide.tree import rolls_back
from runbook_lib.evidence.layout import CHECKS_DIR, DECISION_FILE, PARITY_FILE
from runbook_lib.runs import catalog

NOTEBOOKS = catalog.NOTEBOOKS
LAST_NOTEBOOK = "06_postmortem"  # every chain ends with it


@dataclass(frozen=True)
class Scenario:
    """One drill: the fault, what the operator reports, and what must come out.

    Attributes:
        name: The scenario's name (``--scenario``).
        description: What it rehearses and which seed branch it reaches.
        faults: ``config.ini [faults]`` values for the unified env.
        defect: A SAC release defect (``runbook_lib.sandbox.defects``).
        facts: The assessment notebook's parameters (the symptoms reported).
        strategy: A rollback strategy forced for the rollback notebook
            (seed 003 scenarios); empty: the decision's.
        expected: The decision outcome the drill must reach.
        fix: The scenario includes a fix (faults cleared), then recovery runs.
        severity: The incident's severity.
        kind: The incident's kind.
    """

    name: str
    description: str
    faults: dict[str, float] = field(default_factory=dict)
    defect: str = ""
    facts: dict[str, Any] = field(default_factory=dict)
    strategy: str = ""
    expected: str = ""
    fix: bool = False
    severity: str = "high"
    kind: str = "other"


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "crash",
            "UnifiedSimEnv crashes mid-episode: seed 000's critical branch",
            faults={"crash_at_step": 300},
            facts={"crash": True},
            expected="immediate-rollback",
            severity="critical",
            kind="crash",
        ),
        Scenario(
            "perf-regression",
            "UnifiedSimEnv 1.5x slower (>20%): code-level rollback + profile",
            faults={"slowdown": 1.5},
            facts={"regression_pct": 33.0},
            expected="code-rollback",
            kind="perf-regression",
        ),
        Scenario(
            "minor-slowdown",
            "UnifiedSimEnv 10% slower (<20%): document and keep monitoring",
            faults={"slowdown": 1.1},
            facts={"regression_pct": 9.0},
            expected="document-and-monitor",
            severity="low",
            kind="perf-regression",
        ),
        Scenario(
            "result-bug",
            "rewards biased by -0.05 (a bug): rollback, fix, prove, recover",
            faults={"reward_bias": -0.05},
            facts={"difference_pct": -6.0, "intentional": "no"},
            expected="rollback-and-fix",
            fix=True,
            kind="result-difference",
        ),
        Scenario(
            "result-intentional",
            "an intended reward change outside tolerance: document it",
            faults={"reward_bias": -0.05},
            facts={"difference_pct": -6.0, "intentional": "yes"},
            expected="document-intentional",
            severity="medium",
            kind="result-difference",
        ),
        Scenario(
            "within-tolerance",
            "a tiny reward difference inside tolerance: document it",
            faults={"reward_bias": -0.002},
            facts={"difference_pct": -0.2},
            expected="document-within-tolerance",
            severity="low",
            kind="result-difference",
        ),
        Scenario(
            "other",
            "a report that fits no branch: investigate before any rollback",
            expected="investigate-before-rollback",
            severity="medium",
        ),
        Scenario(
            "sac-deployment-failure",
            "SAC release 1.1.0 predicts NaN actions: seed 003 full rollback",
            defect="code-nan-action",
            strategy="sac-full",
            facts={"crash": True},
            expected="immediate-rollback",
            severity="critical",
            kind="deployment-failure",
        ),
        Scenario(
            "sac-data-corruption",
            "the SAC config is corrupted: restore from the verified backup",
            defect="config-corrupt",
            strategy="sac-full",
            facts={"crash": True},
            expected="immediate-rollback",
            severity="critical",
            kind="data-corruption",
        ),
    )
}
DEFAULT_SCENARIO = "perf-regression"


@dataclass
class DrillReport:
    """What a drill did and found."""

    scenario: str
    incident: str
    workspace: str
    archive: str
    decision: str = ""
    strategy: str = ""
    verdict: str = ""
    checks_failed: list[str] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    archive_ok: bool = False
    archive_problems: list[str] = field(default_factory=list)
    expected: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """The drill reached its expected decision and every run and the archive are clean."""
        runs_ok = all(r["status"] == "ok" for r in self.runs)
        return self.decision == self.expected and self.archive_ok and runs_ok

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the ``--json`` object)."""
        return {**asdict(self), "ok": self.ok}


def scenario(name: str) -> Scenario:
    """The scenario called ``name``.

    Raises:
        InvalidInputError: no such scenario (the message lists them).
    """
    try:
        return SCENARIOS[name]
    except KeyError:
        raise InvalidInputError(
            f"unknown drill scenario {name!r}", hint=f"choose one of: {', '.join(SCENARIOS)}"
        ) from None


def _read_json(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else {}


Progress = Callable[[str], None] | StepProgress


def _steps(progress: Progress | None) -> StepProgress:
    """A step reporter: the caller's, or plain lines through its callback (or silence)."""
    if isinstance(progress, StepProgress):
        return progress
    return StepProgress(progress or (lambda _: None))


def run_drill(
    archive: Path,
    name: str = DEFAULT_SCENARIO,
    *,
    cache_dir: Path | None = None,
    episodes: int = 8,
    progress: Progress | None = None,
    profile: str = "default",
) -> DrillReport:
    """Run one scenario end to end on a sandbox of ``profile``; see the module docstring.

    Raises:
        InvalidInputError: an unknown scenario or profile, or a SAC scenario on
            the foreign profile (which has no SAC agent).
    """
    import threading
    import time

    from runbook_lib.evidence.environment import sb3_system_info
    from runbook_lib.evidence.seal import verify_incident
    from runbook_lib.incident.store import incident_dir, open_incident
    from runbook_lib.runs.kernels import KernelSupply
    from runbook_lib.runs.run import run_notebook, start_kernel_ahead
    from runbook_lib.runs.runner import warm_html_export
    from runbook_lib.sandbox import create_workspace
    from runbook_lib.sandbox.defects import inject_defect
    from runbook_lib.sandbox.faults import set_faults

    spec = scenario(name)
    if profile != "default" and spec.defect:
        raise InvalidInputError(
            f"scenario {spec.name!r} injects a SAC defect; the {profile} profile has no SAC agent",
            hint="choose a scenario of the env switches (crash, perf-regression, result-bug, ...)",
        )
    say = _steps(progress)
    began = time.perf_counter()
    # The first run's seal needs SB3's system info (a child process: 2-3 s of CPU): now.
    threading.Thread(target=sb3_system_info, name="runbook-system-info", daemon=True).start()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    archive = archive.resolve()
    with say.step("sandbox (trains the models on a first run)", topic="sandbox"):
        workspace = create_workspace(
            archive / "drills" / f"{spec.name}-{stamp}" / "sandbox",
            cache_dir=cache_dir,
            profile=profile,
            progress=say,
        ).root
    if spec.faults:
        set_faults(workspace, **spec.faults)
    if spec.defect:
        inject_defect(workspace, spec.defect)
    incident = open_incident(archive, f"drill: {spec.description}", spec.severity, spec.kind).id
    say(f"sandbox {workspace}; incident {incident}")
    report = DrillReport(spec.name, incident, str(workspace), str(archive), expected=spec.expected)
    directory = incident_dir(archive, incident)
    kernels = KernelSupply()

    def run(notebook: str, then: tuple[str, ...], **parameters: Any) -> bool:
        """Run ``notebook``; ``then``: the notebooks that may run after it (its spare's imports)."""
        kernels.expect([NOTEBOOKS / f"{name}.ipynb" for name in then])
        with say.step(f"run {notebook}") as step:
            outcome = run_notebook(
                NOTEBOOKS / f"{notebook}.ipynb",
                incident,
                archive=archive,
                target=workspace,
                parameters=parameters,
                progress=False,
                kernels=kernels,
            )
            step.outcome = outcome.status
        report.runs.append(
            {
                "notebook": notebook,
                "status": outcome.status,
                "output": outcome.output,
                "error": outcome.error,
                "seconds": outcome.duration_s,
            }
        )
        return outcome.status == "ok"

    try:
        # The first kernel boots (a subprocess: the other core) while this process compiles
        # the HTML templates and makes the first run's records.
        first = NOTEBOOKS / "01_assessment.ipynb"
        start_kernel_ahead(kernels, first, incident, archive=archive, target=workspace)
        warm_html_export()
        _run_chain(
            spec, run, report=report, directory=directory, workspace=workspace, episodes=episodes
        )
    finally:
        kernels.close()
    _stop_service(workspace)
    verified = verify_incident(archive, directory)
    report.archive_ok, report.archive_problems = verified.ok, verified.problems
    report.seconds = round(time.perf_counter() - began, 1)
    return report


def _run_chain(
    spec: Scenario,
    run: Callable[..., bool],
    *,
    report: DrillReport,
    directory: Path,
    workspace: Path,
    episodes: int,
) -> None:
    """The notebooks in order, as the scenario's decision leads.

    Each run names the notebooks that may come after it, so the kernel started
    ahead imports what the next one needs; a wrong guess costs time, never a result.
    """
    from runbook_lib.sandbox.faults import clear_faults

    parity = () if spec.defect else ("03_parity",)
    run("01_assessment", ("02_rollback", *parity, LAST_NOTEBOOK), **spec.facts)
    decision = _read_json(directory / DECISION_FILE)
    report.decision = str(decision.get("outcome", ""))
    report.strategy = spec.strategy or str(decision.get("strategy", ""))
    planned = _planned(spec, rolls_back(report.strategy))

    def then(notebook: str) -> tuple[str, ...]:
        return tuple(planned[planned.index(notebook) + 1 :][:1])

    rolled_back = rolls_back(report.strategy) and run(
        "02_rollback", then("02_rollback"), strategy=report.strategy
    )
    if not spec.defect:
        run("03_parity", then("03_parity") if rolled_back else (LAST_NOTEBOOK,), episodes=episodes)
        report.verdict = str(_read_json(directory / PARITY_FILE).get("verdict", ""))
    if rolled_back:
        run("04_verification", then("04_verification"))
        report.checks_failed = _failed_checks(directory)
        if spec.fix:
            clear_faults(workspace)
            run("05_recovery", then("05_recovery"), episodes=episodes)
    run(LAST_NOTEBOOK, ())


def _planned(spec: Scenario, rolling_back: bool) -> list[str]:
    """The notebooks after the assessment when every run succeeds."""
    planned = ["02_rollback"] if rolling_back else []
    planned += [] if spec.defect else ["03_parity"]
    planned += (["04_verification"] + (["05_recovery"] if spec.fix else [])) if rolling_back else []
    return [*planned, LAST_NOTEBOOK]


def _stop_service(workspace: Path) -> None:
    """A drill leaves no process behind: stop the sandbox's service if a step started it."""
    from runbook_lib.rollback.actions.servicectl import adapter_for
    from runbook_lib.target.manifest import load_manifest

    manifest = load_manifest(workspace)
    if manifest.service is not None:
        adapter = adapter_for(manifest.service, manifest.root)
        if adapter.status().running:
            adapter.stop()


def _failed_checks(directory: Path) -> list[str]:
    results = sorted((directory / CHECKS_DIR).glob("verify-*.json"))
    if not results:
        return []
    data = _read_json(results[-1])
    checks = data.get("checks", [])
    return [str(record_check_name(c["name"])) for c in checks if c.get("status") == "fail"]
