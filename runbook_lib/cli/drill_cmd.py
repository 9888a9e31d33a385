"""``runbook drill``: a full incident drill on the sandbox, headless."""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

import click

from runbook_lib.cli.common import emit


@click.command()
@click.option(
    "--archive",
    type=click.Path(path_type=Path, file_okay=False),
    default=lambda: os.environ.get("RUNBOOK_ARCHIVE", "outputs"),
    show_default="./outputs or $RUNBOOK_ARCHIVE",
    help="Archive directory; the drill's sandbox goes to ARCHIVE/drill/sandbox.",
)
@click.option("--episodes", type=click.IntRange(1, 1000), default=3, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def drill(archive: Path, episodes: int, as_json: bool) -> None:
    """Materialize a fresh sandbox and run the legacy-vs-unified smoke on it."""
    from runbook_lib.drill import run_drill

    report = run_drill(archive, episodes=episodes)
    smoke = report.smoke
    data = asdict(report)
    data["smoke"]["agreement"] = smoke.agreement
    data["smoke"]["throughput_ratio"] = smoke.throughput_ratio
    text = (
        f"sandbox   {report.workspace.root} ({report.workspace.seconds:.1f} s)\n"
        f"smoke     {smoke.episodes} episodes, {smoke.steps} steps, "
        f"{smoke.agreement:.1%} of steps agree\n"
        f"speed     legacy {smoke.legacy_steps_per_s:,.0f} steps/s, "
        f"unified {smoke.candidate_steps_per_s:,.0f} steps/s "
        f"(ratio {smoke.throughput_ratio:.2f})"
    )
    if smoke.first_divergence:
        text += f"\nfirst divergence: {smoke.first_divergence}"
    emit(data, as_json=as_json, text=text)
