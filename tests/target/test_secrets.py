"""Credentials never become notebook parameters: names, token formats, PEM, entropy."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.target.secrets import credential_kind, name_suggests_secret, screen_parameters

# Deterministic stand-ins for real credentials (random-looking, never valid anywhere).
BASE64_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
URLSAFE_TOKEN = "XPfC3VEzkVxchdnvAQHLi96LIcNwbmSw"


@pytest.mark.parametrize(
    "name",
    [
        "api_token",
        "GITHUB_TOKEN",
        "dbPassword",
        "passwd",
        "client_secret",
        "api_key",
        "openaiApiKey",
        "aws_credentials",
        "ssh_private_key",
    ],
)
def test_names_that_suggest_a_credential(name: str) -> None:
    assert name_suggests_secret(name)
    with pytest.raises(InvalidInputError, match=rf"parameter '{name}' is named like a credential"):
        screen_parameters({name: "anything"}, environ={})


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8", "a GitHub token"),
        ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "a GitHub token"),
        ("xoxb-1234567890-0987654321-abcdefABCDEF", "a Slack token"),
        ("AKIAIOSFODNN7EXAMPLE", "an AWS access key"),
        ("sk-proj-abcdefghij0123456789ABCD", "an API key (sk-...)"),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
            "a PEM block",
        ),
        ("Authorization: Bearer " + URLSAFE_TOKEN, "a long high-entropy string"),
        (BASE64_KEY, "a long high-entropy string"),
    ],
)
def test_values_that_look_like_credentials(value: str, kind: str) -> None:
    assert credential_kind(value) == kind
    with pytest.raises(InvalidInputError) as caught:
        screen_parameters({"note": value}, ["TRADE_API_TOKEN"], environ={})
    message = str(caught.value)
    assert f"the value of parameter 'note' looks like {kind}" in message
    assert "runbook.toml" in message and "$TRADE_API_TOKEN" in message and "os.environ" in message
    assert value not in message and value[:12] not in message  # never echo a secret


@pytest.mark.parametrize(
    "value",
    [
        "/tmp/pytest-of-root/pytest-3/test_x0/archive/incidents/INC-20261123-0612-3fa2/runs/01-x.ipynb",
        "INC-20261123-0612-3fa2",
        hashlib.sha256(b"plan").hexdigest(),
        "3430c2b0e758",
        pytest.param(str(uuid.uuid4()), id="uuid4"),
        "unified env crashes on reset after five steps",
        "src.rl.envs.factory:create_sim_env",
        "ThisIsAVeryLongCamelCaseIdentifierName2",
        "MaskablePPO_seed42_episodes1000_run7",
        "https://example.com/api/v1/incidents?id=INC-20261123-0612-3fa2",
        "2026-11-23T06:12:00+00:00",
        "sk-learn",
        "v2.0",
        "total_reward,blocking_probability",
    ],
)
def test_ordinary_values_pass(value: str) -> None:
    assert credential_kind(value) is None
    screen_parameters(
        {"value": value, "episodes": 3, "ratio": 0.5, "flag": True, "none": None}, environ={}
    )


def test_the_value_of_a_declared_secret_is_refused_even_when_it_looks_harmless() -> None:
    with pytest.raises(
        InvalidInputError,
        match=r"parameter 'label' carries the value of the secret \$TRADE_API_TOKEN",
    ):
        screen_parameters(
            {"label": "prefix-hunter2hunter2"},
            ["TRADE_API_TOKEN"],
            environ={"TRADE_API_TOKEN": "hunter2hunter2"},
        )


def test_nested_values_are_screened() -> None:
    with pytest.raises(InvalidInputError, match="'settings' looks like an AWS access key"):
        screen_parameters(
            {"settings": {"region": "eu", "keys": ["AKIAIOSFODNN7EXAMPLE"]}}, environ={}
        )
