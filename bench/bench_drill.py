"""The notebook chain's wall time next to the same steps called from the library.

One drill scenario runs twice on fresh sandboxes from the same model cache:
once as the notebook chain (papermill kernels, executed copies, HTML, seals),
once as the same library calls in this process. The ratio is the price of the
notebooks' evidence. Runs alternate (notebooks, library, notebooks, ...) so
machine noise hits both; medians are printed.

Usage: python bench/bench_drill.py [--scenario perf-regression] [--repeats 2] [--cache DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from runbook_lib.app import assessment
from runbook_lib.app.drill import SCENARIOS, run_drill
from runbook_lib.app.triage import facts_from
from runbook_lib.comms.postmortem import write as write_postmortem
from runbook_lib.incident.ref import IncidentRef
from runbook_lib.incident.store import open_incident
from runbook_lib.parity.run import run_incident_parity
from runbook_lib.rollback import operations, strategies
from runbook_lib.sandbox import create_workspace
from runbook_lib.sandbox.faults import set_faults
from runbook_lib.target.manifest import load_manifest
from runbook_lib.verify import runner as verify

EPISODES = 8
RATIO_GOAL = 1.25
WALL_GOAL_S = 12.0


def library_chain(name: str, root: Path, cache: Path) -> float:
    """The drill's steps as direct library calls; returns the seconds they took."""
    spec = SCENARIOS[name]
    start = time.perf_counter()
    archive = root / "archive"
    workspace = create_workspace(root / "ws", cache_dir=cache).root
    set_faults(workspace, **spec.faults)
    incident = open_incident(archive, spec.description, spec.severity, spec.kind).id
    manifest = load_manifest(workspace)
    assessment.assess(manifest)
    facts = facts_from(
        bool(spec.facts.get("crash", False)),
        spec.facts.get("regression_pct"),
        spec.facts.get("difference_pct"),
        5.0,
        str(spec.facts.get("intentional", "unknown")),
    )
    decision = assessment.decide_incident(archive, incident, facts)
    ref = IncidentRef(workspace, archive, incident)
    plan = operations.plan_rollback(ref, decision.strategy)
    operations.apply_rollback(ref, plan.sha256)
    run_incident_parity(manifest, archive, incident, episodes=EPISODES)
    verify.run_verify(ref, checks=strategies.checklist(decision.strategy))
    write_postmortem(archive, incident)
    return time.perf_counter() - start


def notebook_chain(name: str, root: Path, cache: Path) -> tuple[float, dict[str, float]]:
    """The drill as ``runbook drill`` runs it; the seconds it took, and each notebook's."""
    start = time.perf_counter()
    report = run_drill(root / "archive", name, cache_dir=cache, episodes=EPISODES)
    if not report.ok:
        raise SystemExit(f"the drill failed: {report.to_dict()}")
    return time.perf_counter() - start, {r["notebook"]: r["seconds"] for r in report.runs}


def _print_notebooks(per_run: list[dict[str, float]]) -> None:
    for notebook in per_run[0]:
        times = [run[notebook] for run in per_run]
        print(
            f"  {notebook:<18} median {statistics.median(times):6.2f} s  "
            f"{[round(t, 2) for t in times]}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", default="perf-regression", choices=list(SCENARIOS))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--cache", type=Path, default=None, help="a warm model cache (default: a fresh one)"
    )
    args = parser.parse_args()
    notebooks: list[float] = []
    library: list[float] = []
    per_notebook: list[dict[str, float]] = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-drill-") as tmp:
        cache = args.cache or Path(tmp) / "cache"
        create_workspace(Path(tmp) / "warm-up", cache_dir=cache)  # train the models once
        for repeat in range(args.repeats):
            seconds, each = notebook_chain(args.scenario, Path(tmp) / f"nb{repeat}", cache)
            notebooks.append(round(seconds, 2))
            per_notebook.append(each)
            seconds = library_chain(args.scenario, Path(tmp) / f"lib{repeat}", cache)
            library.append(round(seconds, 2))
    nb_s, lib_s = statistics.median(notebooks), statistics.median(library)
    print(f"scenario {args.scenario}, {args.repeats} runs each, alternating, warm model cache")
    print(f"notebook chain (papermill, archive) : median {nb_s:6.1f} s  {notebooks}")
    print(f"library calls in one process        : median {lib_s:6.1f} s  {library}")
    print(f"ratio                                : {nb_s / lib_s:.2f}x")
    print("each notebook (papermill run, kernel start to HTML copy):")
    _print_notebooks(per_notebook)
    print(
        "load average before / after (1, 5, 15 min): "
        f"{load_before} / {tuple(round(x, 2) for x in os.getloadavg())}"
    )
    ratio_ok, wall_ok = nb_s / lib_s <= RATIO_GOAL, nb_s < WALL_GOAL_S
    print(f"goal: chain <= {RATIO_GOAL}x library -> {'OK' if ratio_ok else 'MISSED'}")
    print(
        f"goal: default drill < {WALL_GOAL_S:g} s on an idle machine -> "
        f"{'OK' if wall_ok else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
