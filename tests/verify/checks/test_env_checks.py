"""Env-side checks on a real sandbox: each passes when healthy and catches its defect."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import pytest

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.fsutil import workspace_hash
from runbook_lib.rollback.actions.base import Context
from runbook_lib.rollback.actions.envflags import EnvVarAction
from runbook_lib.rollback.actions.files import BlobStore
from runbook_lib.sandbox.faults import set_faults
from runbook_lib.target.manifest import Manifest, load_manifest
from runbook_lib.target.probes.monitoring import LOGGER_NAME, MonitoringCallback
from runbook_lib.verify.checks import env as checks
from tests.wsutil import workspace_on_path

UNIFIED = "src/rl/envs/unified_sim_env.py"


def manifest(root: Path) -> Manifest:
    return load_manifest(root)


def edit(root: Path, relative: str, old: str, new: str) -> None:
    """A one-line regression in the workspace's code (exactly one match, or the test is wrong)."""
    path = root / relative
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{relative} no longer holds {old!r}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def apply_env_var_rollback(root: Path, incident: Path) -> None:
    """Seed 000 §1.1 as the runbook applies it: .runbook/rollback.env."""
    action = EnvVarAction({"USE_UNIFIED_ENV": "0", "RL_ENV_TYPE": "legacy"}, note="test")
    step = action.plan(root)
    ctx = Context(
        root=root, incident_dir=incident, store=BlobStore(incident / "blobs"), python=sys.executable
    )
    for data in step.blobs.values():
        ctx.store.put(data)
    action.apply(step, ctx)
    assert action.verify(step, ctx).status == "pass"


# --- check_env --------------------------------------------------------------------------


def test_check_env_passes_on_both_envs_and_leaves_nothing_behind(sandbox: Path) -> None:
    before, caches = workspace_hash(sandbox), set(sandbox.rglob("__pycache__"))
    result = checks.check_env_api(manifest(sandbox))
    assert result.status == "pass", result.summary
    envs = result.evidence["envs"]
    assert {t: e["class"] for t, e in envs.items()} == {
        "legacy": "GeneralSimEnv",
        "unified": "UnifiedSimEnv",
    }
    assert all(e["error"] is None and e["warnings"] == [] for e in envs.values())
    assert any("deprecated" in w for w in envs["legacy"]["construction_warnings"])
    assert result.blocking and result.duration_s > 0
    assert workspace_hash(sandbox) == before
    assert set(sandbox.rglob("__pycache__")) == caches  # no bytecode written


def test_check_env_fails_on_an_observation_space_that_lies(fresh_sandbox: Path) -> None:
    # A real regression: the declared Box no longer matches what reset() returns.
    edit(
        fresh_sandbox,
        UNIFIED,
        "shape=(self.adapter.obs_size,)",
        "shape=(self.adapter.obs_size + 1,)",
    )
    result = checks.check_env_api(manifest(fresh_sandbox))
    assert result.status == "fail"
    assert result.summary.startswith("unified: ")
    assert result.evidence["envs"]["legacy"]["error"] is None
    unified = result.evidence["envs"]["unified"]
    assert unified["error"] == (
        "AssertionError: The first element returned by `env.reset()` "
        "is not within the observation space."
    )


def test_check_env_fails_when_the_env_crashes(fresh_sandbox: Path) -> None:
    set_faults(fresh_sandbox, crash_at_step=1)
    result = checks.check_env_api(manifest(fresh_sandbox))
    assert result.status == "fail"
    assert "RuntimeError: injected fault crash_at_step=1" in result.summary


# --- factory resolution -------------------------------------------------------------------


def test_factory_resolution_fails_on_a_healthy_target(
    sandbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The operator's shell may say USE_UNIFIED_ENV=0; the check proves the recorded rollback only.
    monkeypatch.setenv("USE_UNIFIED_ENV", "0")
    result = checks.check_factory_resolution(manifest(sandbox))
    assert result.status == "fail"
    assert "still builds UnifiedSimEnv, not the legacy GeneralSimEnv" in result.summary
    assert result.evidence["switches_dropped_from_caller"] == ["USE_UNIFIED_ENV"]
    assert result.evidence["rollback_env"] == {}
    assert "using UnifiedSimEnv (unified)" in result.evidence["default"]["log"][-1]


def test_factory_resolution_passes_after_the_env_var_rollback(
    fresh_sandbox: Path, tmp_path: Path
) -> None:
    apply_env_var_rollback(fresh_sandbox, tmp_path / "incident")
    result = checks.check_factory_resolution(manifest(fresh_sandbox))
    assert result.status == "pass", result.summary
    line = "INFO src.rl.envs.factory: create_sim_env: using GeneralSimEnv (legacy) decided by RL_ENV_TYPE=legacy"
    assert result.evidence["default"]["log"] == [line]
    assert line in result.summary
    assert result.evidence["rollback_env"] == {"USE_UNIFIED_ENV": "0", "RL_ENV_TYPE": "legacy"}


def test_factory_resolution_warns_when_the_choice_is_not_logged(
    fresh_sandbox: Path, tmp_path: Path
) -> None:
    apply_env_var_rollback(fresh_sandbox, tmp_path / "incident")
    edit(fresh_sandbox, "src/rl/envs/factory.py", "    logger.info(", "    logger.debug(")
    result = checks.check_factory_resolution(manifest(fresh_sandbox))
    assert result.status == "warn"
    assert (
        result.summary
        == "GeneralSimEnv (legacy) is built, but no factory log line names it to prove it"
    )
    assert result.evidence["default"]["log"] == []


def test_factory_resolution_fails_on_a_mistyped_rollback(fresh_sandbox: Path) -> None:
    (fresh_sandbox / ".runbook").mkdir()
    (fresh_sandbox / ".runbook" / "rollback.env").write_text("USE_UNIFIED_ENV=nope\n")
    result = checks.check_factory_resolution(manifest(fresh_sandbox))
    assert result.status == "fail"
    assert "USE_UNIFIED_ENV='nope' is not a valid switch value" in result.summary


# --- determinism ---------------------------------------------------------------------------


def test_determinism_passes_with_and_without_seeded_noise(fresh_sandbox: Path) -> None:
    result = checks.check_determinism(manifest(fresh_sandbox), steps=200)
    assert result.status == "pass", result.summary
    assert {e["steps"] for e in result.evidence["envs"].values()} == {200}
    set_faults(fresh_sandbox, obs_noise=0.05)  # noise drawn from a generator seeded by reset()
    assert checks.check_determinism(manifest(fresh_sandbox), steps=200).status == "pass"


def test_determinism_fails_when_the_noise_generator_is_unseeded(fresh_sandbox: Path) -> None:
    set_faults(fresh_sandbox, obs_noise=0.05)
    edit(
        fresh_sandbox,
        UNIFIED,
        "entropy = [seed, _NOISE_STREAM] if seed >= 0 else None",
        "entropy = None",
    )
    result = checks.check_determinism(manifest(fresh_sandbox), steps=200)
    assert result.status == "fail"
    unified = result.evidence["envs"]["unified"]["differences"]
    assert set(unified) == {"reset again in one process", "a second process"}
    assert {(d["step"], d["field"]) for d in unified.values()} == {(0, "obs")}
    assert result.evidence["envs"]["legacy"]["differences"] == {}
    assert (
        "unified (UnifiedSimEnv) differs after reset again in one process at step 0 (obs)"
        in result.summary
    )


def test_first_difference_names_step_and_field() -> None:
    a: list[list[Any]] = [["o0", None, None, None], ["o1", 1.0, False, False]]
    assert checks.first_difference(a, a) is None
    b: list[list[Any]] = [["o0", None, None, None], ["o1", -1.0, False, False]]
    assert checks.first_difference(a, b) == {
        "step": 1,
        "field": "reward",
        "first": 1.0,
        "second": -1.0,
    }
    assert checks.first_difference(a, a[:1]) == {
        "step": 1,
        "field": "length",
        "first": 2,
        "second": 1,
    }


# --- training smoke run ---------------------------------------------------------------------


def test_training_smoke_passes_and_names_the_env(sandbox: Path) -> None:
    result = checks.check_training_smoke(manifest(sandbox))
    assert result.status == "pass", result.summary
    assert result.evidence["env_chosen"]["class"] == "UnifiedSimEnv"
    assert result.evidence["returncode"] == 0
    assert any("blocking_probability=" in line for line in result.evidence["stdout_tail"])


def test_training_smoke_fails_on_a_crash_and_passes_after_the_rollback(
    fresh_sandbox: Path, tmp_path: Path
) -> None:
    set_faults(fresh_sandbox, crash_at_step=50)
    result = checks.check_training_smoke(manifest(fresh_sandbox))
    assert result.status == "fail"
    assert "exited with 1: RuntimeError: injected fault crash_at_step=50" in result.summary
    apply_env_var_rollback(fresh_sandbox, tmp_path / "incident")
    result = checks.check_training_smoke(manifest(fresh_sandbox))
    assert result.status == "pass", result.summary
    assert result.evidence["env_chosen"] == {
        "class": "GeneralSimEnv",
        "env_type": "legacy",
        "log": "INFO src.rl.envs.factory: create_sim_env: using GeneralSimEnv (legacy) decided by RL_ENV_TYPE=legacy",
    }


def test_checks_skip_a_target_without_env_section(tmp_path: Path) -> None:
    (tmp_path / "runbook.toml").write_text('[target]\nname = "bare"\n\n[git]\nstable_ref = "v1"\n')
    bare = manifest(tmp_path)
    for check in (
        checks.check_env_api,
        checks.check_factory_resolution,
        checks.check_determinism,
        checks.check_training_smoke,
        checks.check_monitoring,
    ):
        result = check(bare)
        assert result.status == "skip" and not result.blocking


# --- monitoring -----------------------------------------------------------------------------


def test_repeated_episode_steps() -> None:
    natural = [(52, 52), (261, 61), (480, 80)]
    assert checks.repeated_episode_steps(natural, [200, 200, 200]) == []
    fault = [*natural, (20, 20), (220, 20), (420, 20)]
    assert checks.repeated_episode_steps(fault, [200, 200, 200]) == [20]
    assert checks.repeated_episode_steps([(20, 20)], [200]) == []  # one episode proves nothing
    # an unfinished third episode that never reached step 150 does not hide the pattern
    assert checks.repeated_episode_steps([(150, 150), (350, 150)], [200, 200, 100]) == [150]


@pytest.mark.slow
def test_monitoring_warns_and_shows_the_empty_mask_fault(
    sandbox: Path, fresh_sandbox: Path
) -> None:
    healthy = checks.check_monitoring(manifest(sandbox))
    assert healthy.status == "warn", healthy.summary  # a full network empties masks now and then
    assert healthy.evidence["env_class"] == "UnifiedSimEnv"
    assert healthy.evidence["progress_lines"] == 6  # 600 steps, one line per 100
    assert 0 < healthy.evidence["empty_mask_rate"] < 0.10
    assert healthy.evidence["repeated_episode_steps"] == []
    assert "INFO runbook.monitoring: Step 100: reward=" in "\n".join(
        healthy.evidence["first_lines"]
    )

    set_faults(fresh_sandbox, empty_mask_at_step=20)
    faulty = checks.check_monitoring(manifest(fresh_sandbox))
    assert faulty.status == "warn"
    episodes = len(faulty.evidence["episode_lengths"])
    assert episodes == 3
    # Same seed, same PPO: exactly one extra warning, at step 20 of every episode.
    assert faulty.evidence["warnings"] == healthy.evidence["warnings"] + episodes
    assert faulty.evidence["repeated_episode_steps"] == [20]
    assert faulty.evidence["repeated_warnings"] == [
        f"Step {200 * e + 20}: No valid actions available (step 20 of its episode)"
        for e in range(3)
    ]
    assert "every one of the 3 episodes had an empty mask at episode step 20" in faulty.summary


@pytest.mark.slow
def test_monitoring_fails_when_learning_crashes(fresh_sandbox: Path) -> None:
    set_faults(fresh_sandbox, crash_at_step=30)
    result = checks.check_monitoring(manifest(fresh_sandbox), timesteps=200, n_steps=100)
    assert result.status == "fail" and not result.blocking
    assert "the PPO learn exited with 1: RuntimeError: injected fault" in result.summary


# --- the callback itself, in this process ----------------------------------------------------


class Recorder(MonitoringCallback):
    """The template method at work: a subclass replaces the alert, the counting stays."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alerts: list[tuple[int, int]] = []

    def on_empty_mask(self, step: int, episode_step: int) -> None:
        super().on_empty_mask(step, episode_step)
        self.alerts.append((step, episode_step))


@pytest.mark.filterwarnings("ignore:GeneralSimEnv is deprecated:DeprecationWarning")
def test_callback_logs_the_seed_lines_during_learn(
    fresh_sandbox: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from stable_baselines3 import PPO

    set_faults(fresh_sandbox, empty_mask_at_step=7)
    with workspace_on_path(fresh_sandbox):
        factory = __import__("src.rl.envs.factory", fromlist=["create_sim_env"])
        env = factory.create_sim_env({"num_requests": 50}, env_type="unified")
        callback = Recorder(log_every=40)
        with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
            model = PPO(
                "MlpPolicy", env, n_steps=50, batch_size=25, n_epochs=1, seed=1, device="cpu"
            )
            model.learn(total_timesteps=150, callback=callback)
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER_NAME]
    progress = [m for m in messages if "reward=" in m]
    assert [m.split(":")[0] for m in progress] == ["Step 40", "Step 80", "Step 120"]
    assert all(m.split("reward=")[1] in {"1.00", "-1.00"} for m in progress)
    assert callback.episode_lengths == [50, 50, 50]
    assert (7, 7) in callback.alerts and (57, 7) in callback.alerts and (107, 7) in callback.alerts
    assert "Step 57: No valid actions available" in messages
    warned = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == LOGGER_NAME]
    assert len(warned) == len(callback.alerts) == callback.summary()["warning_count"]


@pytest.mark.parametrize("bad", [0, -5, 2.5, True])
def test_callback_refuses_a_bad_interval(bad: Any) -> None:
    with pytest.raises(InvalidInputError, match="log_every must be a positive number of steps"):
        MonitoringCallback(log_every=bad)
