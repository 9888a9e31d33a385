"""The [parity] keys that shape a lockstep run: defaults, values, and errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.target.manifest import MANIFEST_NAME, load_manifest
from runbook_lib.target.parity_sections import ParityPolicy, ParitySettings, ParitySide

HEAD = '[target]\nname = "t"\n[git]\nstable_ref = "v1"\n'


def load(tmp_path: Path, parity: str) -> ParitySettings:
    path = tmp_path / MANIFEST_NAME
    path.write_text(HEAD + parity, encoding="utf-8")
    return load_manifest(path).parity


def test_without_the_keys_parity_does_what_it_always_did(tmp_path: Path) -> None:
    for text in ("", "[parity]\ndefault_margin = 0.05\n"):
        settings = load(tmp_path, text)
        assert settings == ParitySettings()
    assert settings.legacy == ParitySide("legacy") and settings.candidate == ParitySide("unified")
    assert settings.min_step_agreement == 1.0 and settings.atol == settings.rtol == 0.0
    assert settings.policy == ParityPolicy("random") and settings.metrics is None


def test_every_key_is_read(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        "[parity]\n"
        'metrics = ["blocking_probability", "time"]\n'
        "min_step_agreement = 0.9\natol = 1e-6\nrtol = 1e-5\nfresh_env = true\n"
        'policy = "pkg.policies:make_policy"\nalgorithms = ["ppo", "pkg.train:smoke"]\n'
        '[parity.legacy]\nenv_type = "old"\npython = "/opt/venv/bin/python"\n'
        '[parity.candidate]\npython = ".venv/bin/python"\n',
    )
    assert settings.metrics == ("blocking_probability", "time")
    assert (settings.min_step_agreement, settings.atol, settings.rtol) == (0.9, 1e-6, 1e-5)
    assert settings.fresh_env is True
    assert settings.policy == ParityPolicy("entry_point", "pkg.policies:make_policy")
    assert settings.algorithms == ("PPO", "pkg.train:smoke")
    assert settings.legacy == ParitySide("old", "/opt/venv/bin/python")
    assert settings.candidate == ParitySide("unified", ".venv/bin/python")
    model = load(tmp_path, '[parity]\npolicy = "models/ppo.zip"\n').policy
    assert model == ParityPolicy("model", "models/ppo.zip")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("min_step_agreement = 1.5", "min_step_agreement"),
        ("atol = -1", "atol"),
        ('fresh_env = "yes"', "fresh_env"),
        ('policy = "greedy"', "policy"),
        ('policy = "../model.zip"', "policy"),
        ('algorithms = ["XGB"]', "algorithms"),
        ('metrics = ["a b"]', "metrics"),
        ("metrics = 3", "metrics"),
        ("colour = 1", "colour"),
        ('[parity.legacy]\nenv_typ = "x"', "env_typ"),
        ('[parity.candidate]\npython = "../py"', "python"),
        ('[parity.candidate]\nref = "a..b"', "ref"),
    ],
)
def test_a_bad_value_is_one_error_naming_the_key(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        load(tmp_path, "[parity]\n" + text + "\n")
    assert needle in str(info.value) and "\n" not in str(info.value)
