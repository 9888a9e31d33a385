"""``runbook sandbox``: the reference target system."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from runbook_lib.app.cli.common import emit


@click.group()
def sandbox() -> None:
    """Materialize the sandbox reference system (an RL project to roll back).

    The sandbox is a small, real RL project: an optical-network simulator with a
    legacy env (GeneralSimEnv) and a unified env (UnifiedSimEnv) behind a factory
    with four rollback switches, and a SAC trading agent with models, backups, a
    versioned package and a local HTTP service. It is a git repository with a
    stable tag v1.0 and the v2.0 release at HEAD.
    """


@sandbox.command("create")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--force", is_flag=True, help="Replace a previous sandbox at DIRECTORY.")
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Cache for trained models (default: $RUNBOOK_CACHE_DIR or ~/.cache/runbook).",
)
@click.option(
    "--profile",
    type=click.Choice(["default", "foreign"]),
    default="default",
    show_default=True,
    help="default: the optical-network + SAC project; foreign: the lightpath project "
    "with its own .venv (gymnasium 0.29.1, stable-baselines3 2.2.1) and a config loader.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def create(
    directory: Path, force: bool, cache_dir: Path | None, profile: str, as_json: bool
) -> None:
    """Create the sandbox workspace in DIRECTORY as a git repository.

    DIRECTORY must be empty or absent; with --force it may be a previous
    sandbox, which is replaced. A directory inside the runbook project is
    refused unless it lies under outputs/.
    """
    from runbook_lib.base.progress import StepProgress
    from runbook_lib.sandbox import create_workspace

    progress = StepProgress.for_command(as_json=as_json)
    # A first run trains the models (about 30 s): one line as each is trained.
    with progress.step(f"sandbox: creating {directory}", topic="sandbox"):
        info = create_workspace(
            directory, force=force, cache_dir=cache_dir, profile=profile, progress=progress
        )
    data = asdict(info)
    text = (
        f"sandbox ({info.profile}) created in {info.root} ({info.seconds:.1f} s)\n"
        f"  stable  {info.stable_ref} {info.stable_sha[:12]}\n"
        f"  HEAD    {info.release_ref} {info.head_sha[:12]}"
    )
    for name, value in info.artifacts.items():
        text += f"\n  {name:<7} {value}"
    emit(data, as_json=as_json, text=text)
