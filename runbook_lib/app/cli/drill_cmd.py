"""``runbook drill``: a full incident drill on the sandbox, headless."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

import click

from runbook_lib.app.cli.common import emit
from runbook_lib.app.cli.options import json_option, locations
from runbook_lib.app.locations import ARCHIVE_ENV, data_home
from runbook_lib.base.errors import CheckFailedError
from runbook_lib.base.progress import StepProgress

if TYPE_CHECKING:
    from runbook_lib.app.drill import DrillReport


def _scenario_help() -> str:
    from runbook_lib.app.drill import SCENARIOS

    return "\n".join(f"  {s.name:<24} {s.description}" for s in SCENARIOS.values())


@click.command()
@click.option("--scenario", default=None, help="Which drill to run (default: perf-regression).")
@click.option(
    "--episodes",
    type=click.IntRange(2, 1000),
    default=8,
    show_default=True,
    help="Paired episodes for the parity runs.",
)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Cache for the sandbox's trained models.",
)
@click.option(
    "--archive",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help=f"Archive directory; the drill's sandbox goes to ARCHIVE/drills/. Default: "
    f"${ARCHIVE_ENV}, else ~/.local/share/runbook/drill.",
)
@click.option(
    "--profile",
    type=click.Choice(["default", "foreign"]),
    default="default",
    show_default=True,
    help="Which sandbox to drill on (see 'runbook sandbox create --help').",
)
@json_option
def drill(
    *,
    scenario: str | None,
    profile: str,
    episodes: int,
    cache_dir: Path | None,
    archive: Path | None,
    as_json: bool,
) -> None:
    """Materialize a fresh sandbox, inject a fault, and run the runbook chain headless.

    Assessment -> rollback -> parity -> verification -> (recovery) -> post-mortem,
    each notebook executed with papermill into the incident's evidence archive,
    which is verified at the end. Exits 1 when the drill does not reach its
    expected decision, a notebook fails, or the archive does not verify.
    """
    from runbook_lib.app.drill import DEFAULT_SCENARIO, run_drill

    # The drill makes its own target, so its default archive is one fixed directory.
    chosen = archive or locations().archive
    if chosen is None:
        chosen = Path(os.environ.get(ARCHIVE_ENV) or data_home() / "runbook" / "drill")
    report = run_drill(
        chosen,
        scenario or DEFAULT_SCENARIO,
        cache_dir=cache_dir,
        episodes=episodes,
        progress=StepProgress.for_stream(),
        profile=profile,
    )
    runs = "\n".join(f"  {r['status']:<6} {r['notebook']}" for r in report.runs)
    problems = "; ".join(report.archive_problems)
    failed = f": {', '.join(report.checks_failed)}" if report.checks_failed else ""
    sealed = "verified" if report.archive_ok else f"NOT verified: {problems}"
    text = (
        f"scenario  {report.scenario}\nincident  {report.incident}\n"
        f"decision  {report.decision} (expected {report.expected}); strategy {report.strategy}\n"
        f"verdict   {report.verdict or '-'}\n"
        f"checks    {len(report.checks_failed)} failed{failed}\n"
        f"runs\n{runs}\n"
        f"archive   {report.archive}/incidents/{report.incident} "
        f"({sealed})\n"
        f"took      {report.seconds:.1f} s\n" + "\n".join(next_commands(report))
    )
    emit(report.to_dict(), as_json=as_json, text=text)
    if not report.ok:
        raise CheckFailedError(f"drill {report.scenario} did not end as expected")


def next_commands(report: DrillReport) -> list[str]:
    """What to look at once the drill is over: the archive, the report, the post-mortem."""
    archive = Path(report.archive)
    where = f"--archive {shlex.quote(str(archive))}"
    postmortem = archive / "incidents" / report.incident / "postmortem.md"
    return [
        "next:",
        f"  runbook archive show {report.incident} {where}",
        f"  runbook archive report {report.incident} {where}"
        f"   (writes {archive / 'reports' / f'{report.incident}.tar.gz'})",
        f"  post-mortem: {postmortem}",
    ]


drill.epilog = "\b\nScenarios:\n" + _scenario_help()
