"""``runbook parity``: legacy vs candidate in lockstep (or against a baseline), and ``record``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from runbook_lib.app.cli.common import emit
from runbook_lib.app.cli.options import (
    ARCHIVE_HELP,
    TARGET_HELP,
    OneLineGroup,
    json_option,
    locations,
    target_option,
)
from runbook_lib.base.errors import CheckFailedError, InvalidInputError
from runbook_lib.base.progress import StepProgress
from runbook_lib.target.manifest import load_manifest

F = TypeVar("F", bound=Callable[..., Any])
_MAX_EPISODE_LINES = 30


def run_options(func: F) -> F:
    """``--episodes``, ``--seeds``, ``--workers``, ``--policy``, ``--model``, ``--algo``."""
    options = [
        click.option(
            "--episodes",
            type=int,
            default=None,
            help="Episodes, with seeds 0..N-1  [default: 20; with --baseline: all recorded].",
        ),
        click.option(
            "--seeds",
            default=None,
            metavar="LIST",
            help="Seeds instead of --episodes, e.g. 0-9 or 1,5,9.",
        ),
        click.option(
            "--workers",
            type=int,
            default=1,
            show_default=True,
            help="Processes to spread the episodes over (same results as 1).",
        ),
        click.option(
            "--policy",
            type=click.Choice(["random", "model"]),
            default=None,
            help="Who picks the actions: random valid ones, or an SB3 model  [default: random].",
        ),
        click.option(
            "--model",
            "model_path",
            type=click.Path(path_type=Path, dir_okay=False),
            default=None,
            help="The SB3 model (.zip) for --policy model (implies it); it acts on the legacy obs.",
        ),
        click.option(
            "--algo",
            default="PPO",
            show_default=True,
            help="The model's SB3 algorithm class (PPO, A2C, DQN...).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _policy(policy: str | None, model_path: Path | None, algo: str) -> Any:
    from runbook_lib.parity.inputs import PolicyChoice

    kind = policy or ("model" if model_path is not None else "random")
    return PolicyChoice(kind, model_path, algo)


def _seeds(text: str | None) -> tuple[int, ...] | None:
    from runbook_lib.parity.inputs import parse_seeds

    return parse_seeds(text) if text is not None else None


def _pct(value: float) -> str:
    return f"{value:+.2%}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _header_lines(data: dict[str, Any]) -> list[str]:
    legacy, candidate = data["envs"]["legacy"], data["envs"]["candidate"]
    source = f"; baseline {data['baseline']}" if data["baseline"] else ""
    lines = [
        f"parity    {data['verdict']}: {data['reason']}",
        f"envs      {legacy['class']} ({legacy['env_type']}) vs {candidate['class']} "
        f"({candidate['env_type']}); {data['episodes']} episodes, {data['steps']} steps, "
        f"{data['workers']} worker(s){source}",
        f"agreement {data['step_agreement']:.2%} of steps identical",
        f"verdicts  results {data['verdict']} (decided by rule {data.get('deciding_rule')}), "
        f"speed {data.get('speed_verdict')}",
    ]
    lines += [f"spaces    {difference}" for difference in data.get("space_differences") or []]
    first = data["first_divergence"]
    if first:
        lines.append(
            f"first divergence  episode {first['episode']}, step {first['step']}, "
            f"{first['field']}: legacy {first['legacy']} vs candidate {first['candidate']}"
        )
    pct = data["throughput_regression_pct"]
    if pct is not None:
        low, high = data["throughput_ci_pct"]
        lines.append(
            f"throughput  candidate {abs(pct):.1f}% {'slower' if pct > 0 else 'faster'} "
            f"(regression 95% CI {low:+.1f}% .. {high:+.1f}%), steps/s legacy "
            f"{data['legacy_steps_per_s']:.0f} vs candidate {data['candidate_steps_per_s']:.0f}"
        )
    return lines


def _metric_lines(data: dict[str, Any]) -> list[str]:
    lines = ["metrics   (legacy mean, candidate mean, difference [95% CI], margin, verdict)"]
    for name, m in data["metrics"].items():
        lines.append(
            f"  {name:<22} {m['legacy_mean']:<11.4f} {m['candidate_mean']:<11.4f} "
            f"{_pct(m['relative_difference'])} [{_pct(m['ci_low'])}, {_pct(m['ci_high'])}] "
            f"{m['margin']:.0%}  {m['verdict']}"
        )
    lines.append("episodes  (episode, seed, length: total reward and blocking, legacy/candidate)")
    for r in data["records"][:_MAX_EPISODE_LINES]:
        crash = f"  CRASH at step {r['error']['step']}" if r["error"] else ""
        blocking = [
            r[side].get("blocking_probability") for side in ("legacy_info", "candidate_info")
        ]
        lines.append(
            f"  {r['episode']:>4} {r['seed']:>6} {r['length']:>6}: {r['legacy_reward']:.2f}/"
            f"{r['candidate_reward']:.2f}, {_number(blocking[0])}/{_number(blocking[1])}{crash}"
        )
    if len(data["records"]) > _MAX_EPISODE_LINES:
        lines.append(f"  ... {len(data['records']) - _MAX_EPISODE_LINES} more in parity.json")
    return lines


def _decision_lines(data: dict[str, Any]) -> list[str]:
    lines = []
    if data["suggested_episodes"]:
        lines.append(f"undecided run again with --episodes {data['suggested_episodes']} to decide")
    decision = data["decision"]
    lines.append(f"decision  {decision['summary']} (strategy {decision['strategy']})")
    lines += [f"  - {action}" for action in decision["actions"]]
    for role, rows in (data["profile"] or {}).items():
        top = ", ".join(f"{row['function']} {row['share']:.0%}" for row in rows[:3])
        lines.append(f"profile   {role}: {top}")
    plots = len(data["files"]) - 1
    lines.append(f"saved     {data['files']['parity.json'][0]} and {plots} plots (PNG+SVG)")
    return lines


def _outcome_text(data: dict[str, Any]) -> str:
    return "\n".join(_header_lines(data) + _metric_lines(data) + _decision_lines(data))


@click.group("parity", cls=OneLineGroup, invoke_without_command=True)
@click.option(
    "--incident",
    "incident_id",
    default=None,
    metavar="ID",
    help="The incident to run parity for (required without a subcommand).",
)
@run_options
@click.option(
    "--baseline",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Replay this recording (from 'parity record') on the candidate instead.",
)
@click.option(
    "--backend",
    type=click.Choice(["process", "ray"]),
    default="process",
    show_default=True,
    help="Where --workers run: a fork pool, or Ray (the manifest's [parity] ray_address, "
    "else a local instance with files under ARCHIVE/ray; pip install 'rl-runbook[ray]').",
)
@click.option(
    "--target", type=click.Path(path_type=Path, file_okay=False), default=None, help=TARGET_HELP
)
@click.option(
    "--archive", type=click.Path(path_type=Path, file_okay=False), default=None, help=ARCHIVE_HELP
)
@json_option
@click.pass_context
def parity(
    ctx: click.Context,
    *,
    incident_id: str | None,
    episodes: int | None,
    seeds: str | None,
    workers: int,
    policy: str | None,
    model_path: Path | None,
    algo: str,
    baseline: Path | None,
    backend: str,
    target: Path | None,
    archive: Path | None,
    as_json: bool,
) -> None:
    """Run the legacy and the candidate env in lockstep and decide (seed 000 §2, §3.3, §9).

    Both envs come from the manifest's factory with explicit env types (the
    rollback's env file plays no part). Prints the first divergence, the share
    of identical steps, per-episode metrics, each metric's verdict with its
    95% interval, the throughput regression and the decision; saves
    parity.json and the plots in the incident's directory. Exit code 1 when
    the verdict is FAIL. 'runbook parity record' saves a baseline to compare
    the candidate with later (--baseline).
    """
    if ctx.invoked_subcommand is not None:
        given = [
            name
            for name in ctx.params
            if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE
        ]
        if given:
            raise InvalidInputError(
                f"options before '{ctx.invoked_subcommand}' belong to the parity run",
                hint="put them after the subcommand",
            )
        return
    if incident_id is None:
        raise InvalidInputError(
            "runbook parity: missing option '--incident'",
            hint="open one with 'runbook incident open'; see 'runbook parity --help'",
        )
    from runbook_lib.parity.run import run_incident_parity

    # Resolved here, not in option wrappers, so that 'parity record' never needs them.
    root = locations().resolve_target(target)
    manifest = load_manifest(root)
    from runbook_lib.evidence.amend import sealing

    resolved = locations().resolve_archive(archive, root)
    progress = StepProgress.for_command(as_json=as_json)
    step = progress.step("parity: running the paired episodes")
    with sealing(resolved, incident_id), step:  # parity.json and its plots are sealed with it
        outcome = run_incident_parity(
            manifest,
            resolved,
            incident_id,
            episodes=episodes,
            seeds=_seeds(seeds),
            workers=workers,
            policy=_policy(policy, model_path, algo),
            baseline=baseline,
            backend=backend,
            progress=progress,
        )
    data = outcome.to_dict()
    emit(data, as_json=as_json, text=_outcome_text(data))
    if data["verdict"] == "FAIL":
        raise CheckFailedError(f"parity verdict FAIL: {data['reason']}")


@parity.command("record")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The baseline file to write (JSON).",
)
@click.option("--env-type", default="legacy", show_default=True, help="The env to record.")
@run_options
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
@target_option
@json_option
def record_command(
    *,
    out: Path,
    env_type: str,
    episodes: int | None,
    seeds: str | None,
    workers: int,
    policy: str | None,
    model_path: Path | None,
    algo: str,
    force: bool,
    target: Path,
    as_json: bool,
) -> None:
    """Record an env's trajectories as a baseline for 'runbook parity --baseline FILE'.

    Per step: the action, reward, terminated, truncated and a sha256 digest of
    the observation; per episode: its seed, length and metrics.
    """
    from runbook_lib.parity.inputs import choose_seeds
    from runbook_lib.parity.run import record

    progress = StepProgress.for_command(as_json=as_json)
    with progress.step(f"parity record: recording {env_type}", topic="record"):
        saved = record(
            load_manifest(target),
            out,
            seeds=choose_seeds(episodes, _seeds(seeds)),
            env_type=env_type,
            workers=workers,
            policy=_policy(policy, model_path, algo),
            force=force,
            progress=progress,
        )
    rewards = [e["metrics"]["total_reward"] for e in saved["episodes"]]
    text = (
        f"recorded {len(rewards)} episodes of {saved['env_class']} ({env_type}) into {out}; "
        f"mean total reward {sum(rewards) / len(rewards):.2f}"
    )
    emit({"out": str(out), **saved}, as_json=as_json, text=text)
