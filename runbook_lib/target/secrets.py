"""Keep credentials out of notebook parameters.

Papermill writes every parameter into the executed notebook, which the archive
keeps for good, so a secret given as a parameter would be archived in clear.
A secret reaches a kernel only through its environment: the target's
``runbook.toml`` lists the variable names under ``secrets`` and the operator
exports them before ``runbook run``; the kernel inherits them.

:func:`screen_parameters` refuses a parameter whose name suggests a credential
(``token``, ``password``, ``api_key``...) or whose value looks like one: a known
token format (GitHub, Slack, AWS, OpenAI-style keys), a PEM block, the value of
a declared secret variable, or a long high-entropy string. Messages name the
parameter, never its value.
"""

from __future__ import annotations

import base64
import binascii
import html
import itertools
import json
import math
import os
import re
import urllib.parse
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from runbook_lib.base.errors import InvalidInputError

SECRET_NAME_WORDS = (
    "token",
    "password",
    "passwd",
    "secret",
    "api_key",
    "apikey",
    "credential",
    "private_key",
)
_TOKEN_FORMATS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}")),
    ("a GitHub token", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}")),
    ("a GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("an AWS access key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("an API key (sk-...)", re.compile(r"\bsk-[A-Za-z0-9_-]{16,}")),
    ("a PEM block", re.compile(r"-----BEGIN [A-Z0-9 ]*-----")),
    ("a JSON web token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.")),
)
# Words are cut where paths, URLs and sentences break, not inside base64.
_WORD_SPLIT = re.compile(r"[\s\"',;:=()\[\]{}<>]+")
_HEX = re.compile(r"^[0-9a-fA-F-]+$")
_MIN_RANDOM_LENGTH = 20
# Any run of this many characters of a secret counts as the secret (prefixes, fragments).
SECRET_WINDOW = 8
_MIN_SECRET_LENGTH = 6
_MIN_ENTROPY_BITS = 3.5
# Random text switches between upper case, lower case and digits at most
# characters; identifiers, paths and prose hardly ever do.
_MIN_CLASS_SWITCHES = 0.3
_CAMEL_SHARE = 0.8


def _char_class(char: str) -> int:
    if char.isdigit():
        return 0
    return 1 if char.isupper() else 2 if char.islower() else 3


def shannon_entropy(text: str) -> float:
    """Bits per character of ``text``'s character distribution."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _looks_random(word: str) -> bool:
    if len(word) < _MIN_RANDOM_LENGTH or _HEX.match(word):
        return False  # hex digests and UUIDs are identifiers (git SHAs, plan hashes)
    classes = [_char_class(c) for c in word if c.isalnum()]
    if len(set(classes)) < 2 or len(classes) < _MIN_RANDOM_LENGTH:
        return False
    switches = sum(a != b for a, b in itertools.pairwise(classes)) / (len(classes) - 1)
    return (
        switches >= _MIN_CLASS_SWITCHES
        and shannon_entropy(word) >= _MIN_ENTROPY_BITS
        and not _camel_case(word)
    )


def _camel_case(word: str) -> bool:
    # In CamelCase nearly every capital starts a lower-case word; in random text
    # only about 40% of capitals are followed by a lower-case letter.
    capitals = [i for i, c in enumerate(word[:-1]) if c.isupper()]
    starts = sum(word[i + 1].islower() for i in capitals)
    return bool(capitals) and starts >= _CAMEL_SHARE * len(capitals)


def name_suggests_secret(name: str) -> bool:
    """Tell whether a parameter name says it holds a credential (``api_token``, ``dbPassword``)."""
    lowered = name.lower()
    return any(word in lowered for word in SECRET_NAME_WORDS)


def credential_kind(value: str) -> str | None:
    """What ``value`` looks like if it looks like a credential (``a GitHub token``), else None."""
    for kind, pattern in _TOKEN_FORMATS:
        if pattern.search(value):
            return kind
    if any(_looks_random(word) for word in _WORD_SPLIT.split(value)):
        return "a long high-entropy string"
    return None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _strings(item)]
    return []


def _base64_cores(raw: bytes) -> list[bytes]:
    # Inside a longer base64 text the secret starts at any of 3 byte offsets:
    # keep, for each, only the characters that depend on the secret's bytes alone.
    cores = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).rstrip(b"=")
        skip = (8 * offset + 5) // 6
        end = len(encoded) - (1 if (offset + len(raw)) % 3 else 0)
        core = encoded[skip:end]
        if len(core) >= SECRET_WINDOW:
            cores += [core, core.replace(b"+", b"-").replace(b"/", b"_")]
    return cores


def secret_forms(secret: str) -> list[tuple[str, bytes]]:
    """The encodings of ``secret`` a file may hold it in, each with its name.

    Raw, JSON-escaped (as an ``.ipynb`` stores printed text), HTML-escaped (as
    an ``.html`` export does), base64 (standard and URL-safe, at each
    alignment), URL-encoded, hex (both cases) and reversed.
    """
    raw = secret.encode("utf-8")
    forms = [
        ("raw", raw),
        ("JSON-escaped", json.dumps(secret)[1:-1].encode()),
        ("JSON-escaped", json.dumps(secret, ensure_ascii=False)[1:-1].encode()),
        ("HTML-escaped", html.escape(secret).encode()),
        ("HTML-escaped", html.escape(secret, quote=False).encode()),
        ("URL-encoded", urllib.parse.quote(secret, safe="").encode()),
        ("URL-encoded", urllib.parse.quote_plus(secret).encode()),
        ("hex", binascii.hexlify(raw)),
        ("hex", binascii.hexlify(raw).upper()),
        ("reversed", secret[::-1].encode("utf-8")),
        *(("base64", core) for core in _base64_cores(raw)),
    ]
    seen: set[bytes] = set()
    unique = []
    for name, form in forms:
        if form and form not in seen:
            seen.add(form)
            unique.append((name, form))
    return unique


def secret_windows(secret: str) -> list[str]:
    """Every run of :data:`SECRET_WINDOW` characters of ``secret`` (itself if shorter)."""
    if len(secret) <= SECRET_WINDOW:
        return [secret] if len(secret) >= _MIN_SECRET_LENGTH else []
    return sorted({secret[i : i + SECRET_WINDOW] for i in range(len(secret) - SECRET_WINDOW + 1)})


def find_secret(data: bytes, secret: str) -> str | None:
    """Which form of ``secret`` ``data`` holds (``"raw"``, ``"base64"``...), or ``None``."""
    if len(secret) < _MIN_SECRET_LENGTH:
        return None
    for name, form in secret_forms(secret):
        if form in data:
            return name
    for window in secret_windows(secret):
        if window.encode("utf-8") in data:
            return f"a {SECRET_WINDOW}-character substring"
    return None


def redact_text(text: str, secrets: Mapping[str, str], mask: str = "***") -> tuple[str, list[str]]:
    """``text`` with every textual form of each secret replaced by ``mask``.

    Returns:
        The redacted text and the names of the secrets that were found in it.
    """
    found: list[str] = []
    for name, secret in secrets.items():
        if len(secret) < _MIN_SECRET_LENGTH:
            continue
        before = text
        for _, form in secret_forms(secret):
            text = text.replace(form.decode("utf-8", "replace"), mask)
        if text != before:
            found.append(name)
    return text, found


def parameter_problem(name: str, value: Any, secret_values: Mapping[str, str]) -> str | None:
    """Why the parameter ``name`` may not be passed (a sentence without the value), or None."""
    if name_suggests_secret(name):
        return f"parameter {name!r} is named like a credential"
    for text in _strings(value):
        for variable, secret in secret_values.items():
            if any(window in text for window in secret_windows(secret)):
                return f"parameter {name!r} carries the value of the secret ${variable}"
        kind = credential_kind(text)
        if kind is not None:
            return f"the value of parameter {name!r} looks like {kind}"
    return None


def screen_parameters(
    parameters: Mapping[str, Any],
    secret_names: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> None:
    """Refuse any parameter that looks like a credential, before a kernel starts.

    Args:
        parameters: The notebook parameters about to be injected.
        secret_names: The manifest's ``secrets`` (names of environment variables).
        environ: Where those variables' values are looked up (to catch a secret
            pasted as a parameter); ``os.environ`` when ``None``.

    Raises:
        InvalidInputError: naming the parameter and pointing to the environment mechanism.
    """
    env = os.environ if environ is None else environ
    values = {name: env[name] for name in secret_names if env.get(name)}
    for name, value in parameters.items():
        problem = parameter_problem(name, value, values)
        if problem is None:
            continue
        declared = ", ".join(f"${n}" for n in secret_names) or "none declared yet"
        raise InvalidInputError(
            f"{problem}; secrets never go into notebook parameters (papermill archives them)",
            hint="list the variable's name under 'secrets' in runbook.toml, export it before "
            f"'runbook run' and read it with os.environ in the notebook (declared: {declared})",
        )
