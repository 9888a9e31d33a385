"""``runbook decide``: the seeds' rollback decision for the facts given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from runbook_lib.app.cli.common import emit
from runbook_lib.app.cli.options import (
    ARCHIVE_HELP,
    OneLineCommand,
    json_option,
    locations,
)
from runbook_lib.base.errors import InvalidInputError
from runbook_lib.decide.scenarios import SAC_SCENARIOS, SacDecision, decide_sac
from runbook_lib.decide.tree import DEFAULT_TOLERANCE_PCT, Assessment, Decision, decide
from runbook_lib.incident.store import advance_incident, incident_dir, load_incident

_TREE_OPTIONS = ("crash", "regression_pct", "difference_pct", "tolerance_pct", "intentional")


def _decision_text(decision: Decision) -> str:
    lines = [
        f"decision  {decision.summary}",
        f"strategy  {decision.strategy}",
        f"path      {' -> '.join(decision.path)}",
        "reasons",
        *(f"  - {reason}" for reason in decision.reasons),
        "actions",
        *(f"  - {action}" for action in decision.actions),
    ]
    if decision.also:
        lines.append("also      " + ", ".join(f.outcome for f in decision.also))
    lines.append(f"source    {decision.source}")
    return "\n".join(lines)


def _sac_text(decision: SacDecision) -> str:
    deployed = "deployed" if decision.deployed else "not deployed"
    return "\n".join(
        [
            f"scenario  {decision.scenario} ({deployed})",
            f"strategy  {decision.strategy}: {decision.summary}",
            "steps",
            *(f"  - {step}" for step in decision.steps),
            f"source    {decision.source}",
        ]
    )


@click.command("decide", cls=OneLineCommand)
@click.option("--crash/--no-crash", default=False, help="A crash or data loss was seen.")
@click.option(
    "--regression-pct",
    type=float,
    default=None,
    metavar="PCT",
    help="How much slower the candidate is, in percent (25 = 25% slower).",
)
@click.option(
    "--difference",
    "difference_pct",
    type=float,
    default=None,
    metavar="PCT",
    help="Relative difference of the results, in percent.",
)
@click.option(
    "--tolerance",
    "tolerance_pct",
    type=float,
    default=DEFAULT_TOLERANCE_PCT,
    show_default=True,
    metavar="PCT",
    help="Largest difference that counts as equal.",
)
@click.option(
    "--intentional/--bug",
    default=None,
    help="Whether a difference is intended or a bug (default: not known yet).",
)
@click.option(
    "--scenario",
    type=click.Choice(list(SAC_SCENARIOS)),
    default=None,
    help="A seed 003 (SAC agent) scenario instead of the seed 000 facts.",
)
@click.option(
    "--deployed/--not-deployed",
    default=True,
    show_default=True,
    help="With --scenario: whether the failed release was deployed.",
)
@click.option(
    "--incident",
    "incident_id",
    default=None,
    help="Record the decision in this incident (decisions/, index, journal) and mark it assessed.",
)
@click.option(
    "--archive",
    "given_archive",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help=ARCHIVE_HELP + " Only read with --incident.",
)
@json_option
@click.pass_context
def decide_command(
    ctx: click.Context,
    *,
    crash: bool,
    regression_pct: float | None,
    difference_pct: float | None,
    tolerance_pct: float,
    intentional: bool | None,
    scenario: str | None,
    deployed: bool,
    incident_id: str | None,
    given_archive: Path | None,
    as_json: bool,
) -> None:
    """Walk the rollback decision tree (seed 000 §2) and print the decision.

    The decision names the recommended rollback strategy, the path taken
    through the tree and the reasons. With --scenario, seed 003's scenarios
    (implementation, testing or deployment failure, data corruption) map to
    the phases and steps of its SAC rollback procedure instead.
    """
    # Without an incident nothing is recorded: no archive (nor a target for its default).
    archive = given_archive
    if incident_id is not None:
        archive = locations().resolve_archive(given_archive)
        load_incident(archive, incident_id)  # a clear error before deciding anything
    if scenario is not None:
        flags = {param.name: param.opts[0] for param in ctx.command.params}
        given = [
            flags[name]
            for name in _TREE_OPTIONS
            if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE
        ]
        if given:
            raise InvalidInputError(
                f"--scenario (seed 003) cannot be combined with {', '.join(given)} (seed 000)",
                hint="decide one of the two: a seed 003 scenario, or the seed 000 facts",
            )
        sac = decide_sac(scenario, deployed=deployed)
        _emit_recorded(
            sac.to_dict(),
            _sac_text(sac),
            sac.summary,
            archive,
            incident_id=incident_id,
            as_json=as_json,
        )
        return
    facts = Assessment(crash, regression_pct, difference_pct, tolerance_pct, intentional)
    decision = decide(facts)
    _emit_recorded(
        decision.to_dict(),
        _decision_text(decision),
        decision.summary,
        archive,
        incident_id=incident_id,
        as_json=as_json,
    )


def _emit_recorded(
    data: dict[str, Any],
    text: str,
    summary: str,
    archive: Path | None,
    *,
    incident_id: str | None,
    as_json: bool,
) -> None:
    """Print the decision; with an incident, keep it there first (the incident is assessed)."""
    if incident_id is not None and archive is not None:
        from runbook_lib.evidence.records import record_decision

        if load_incident(archive, incident_id).state in ("opened", "assessed"):
            advance_incident(archive, incident_id, "assessed", note=f"decision: {summary}")
        path = record_decision(
            archive, incident_dir(archive, incident_id), data, source="runbook decide"
        )
        data = {**data, "recorded": str(path)}
        text += f"\nrecorded  {path}"
    emit(data, as_json=as_json, text=text)
