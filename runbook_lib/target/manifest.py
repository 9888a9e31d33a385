"""The target manifest: ``runbook.toml`` at a target's root says what to roll back and how.

Every fact the runbook needs about a target (its stable git ref, the env
factory and its four rollback switches, backups, models and the env they must
fit, the package and its versions, the service, the test command, the config
validator and trading bounds, parity margins) lives in one TOML file.
:func:`load_manifest` validates all of it before any action runs: an unknown
key, a wrong type or a missing required key is an error naming the key, the
file and the line, and the keys that are accepted. Paths are relative to the
target's root and may not leave it. Secrets never appear in the file: it lists
the names of the environment variables that hold them.
"""

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.records import plain
from runbook_lib.target.parity_sections import ParitySettings, parity_settings
from runbook_lib.target.sections import (
    archive_section,
    backups_section,
    checks_section,
    env_section,
    evidence_section,
    git_section,
    models_section,
    package_section,
    rollback_tests_command,
    secret_names,
    target_name,
    target_python,
    target_root,
    tests_command,
)
from runbook_lib.target.service_sections import (
    PARITY_KEYS,
    notify_deadline,
    notify_section,
    parity_margins,
    ray_address,
    service_section,
)
from runbook_lib.target.specs import (
    DEFAULT_MARGIN,
    DEFAULT_WEBHOOK_DEADLINE_S,
    BackupSpec,
    ChecksSpec,
    EnvSpec,
    GitSpec,
    ModelsSpec,
    PackageSpec,
    ServiceSpec,
)
from runbook_lib.target.tomlcheck import Source, Table, find_secrets, read_text

MANIFEST_NAME = "runbook.toml"

_TOP = (
    "secrets",
    "target",
    "git",
    "env",
    "backups",
    "models",
    "package",
    "service",
    "tests",
    "parity",
    "notify",
    "checks",
    "archive",
    "evidence",
)


class Manifest(NamedTuple):
    """A validated ``runbook.toml``; paths inside are relative to :attr:`root`."""

    path: Path
    name: str
    root: Path
    git: GitSpec
    env: EnvSpec | None = None
    backups: BackupSpec | None = None
    models_glob: str | None = None
    package: PackageSpec | None = None
    service: ServiceSpec | None = None
    test_command: tuple[str, ...] = ()
    rollback_test_command: tuple[str, ...] = ()
    default_margin: float = DEFAULT_MARGIN
    margins: Mapping[str, float] = MappingProxyType({})
    ray_address: str | None = None
    webhook_url: str | None = None
    webhook_url_env: str | None = None
    webhook_deadline_s: float = DEFAULT_WEBHOOK_DEADLINE_S
    secrets: tuple[str, ...] = ()
    models: ModelsSpec | None = None
    checks: ChecksSpec | None = None
    archive_dir: str | None = None
    signing_key: str | None = None
    python: str | None = None
    parity: ParitySettings = ParitySettings()

    def resolve(self, relative: str) -> Path:
        """The absolute path of a manifest path (relative to the target's root)."""
        return self.root / relative

    def margin(self, metric: str) -> float:
        """The parity margin of ``metric`` (relative, e.g. 0.05), or the default one."""
        return self.margins.get(metric, self.default_margin)

    def test_argv(self, python: str, junit: Path, *, rollback: bool = False) -> list[str]:
        """The target's test command (``rollback``: its rollback tests), placeholders filled in."""
        command = self.rollback_test_command if rollback else self.test_command
        return [a.replace("{python}", python).replace("{junit}", str(junit)) for a in command]

    def missing_secrets(self, environ: Mapping[str, str]) -> list[str]:
        """Names in :attr:`secrets` that ``environ`` does not set."""
        return [name for name in self.secrets if not environ.get(name)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data: dict[str, Any] = plain(self)
        data["path"] = str(self.path)
        data["root"] = str(self.root)
        return data


def parse_manifest(source: Source) -> Manifest:
    """Validate a parsed ``runbook.toml``; see :func:`load_manifest`."""
    top = Table(source, (), source.data, _TOP)
    find_secrets(source)  # first, so that no later message repeats a secret
    secrets = secret_names(top)
    target = top.table("target", ("name", "root", "python"))
    name = target_name(target)
    models = models_section(top)
    tests = top.opt_table("tests", ("command", "rollback_command"))
    default_margin, margins = parity_margins(top)
    webhook_url, webhook_env = notify_section(top)
    return Manifest(
        path=source.path.resolve(),
        name=name,
        root=target_root(source, target),
        git=git_section(top),
        env=env_section(top),
        backups=backups_section(top),
        models_glob=models.glob if models is not None else None,
        package=package_section(top),
        service=service_section(top),
        test_command=tests_command(tests) if tests is not None else (),
        rollback_test_command=rollback_tests_command(tests) if tests is not None else (),
        default_margin=default_margin,
        margins=margins,
        ray_address=ray_address(top),
        webhook_url=webhook_url,
        webhook_url_env=webhook_env,
        secrets=secrets,
        models=models,
        checks=checks_section(top),
        archive_dir=archive_section(top),
        signing_key=evidence_section(top),
        webhook_deadline_s=notify_deadline(top),
        python=target_python(target),
        parity=parity_settings(top, PARITY_KEYS),
    )


def load_manifest(path: Path) -> Manifest:
    """Read and validate a target's ``runbook.toml`` (or the one in directory ``path``).

    Raises:
        InvalidInputError: the file is missing, not TOML, or has an unknown key,
            a wrong type or a missing required key; the message names the key,
            the file and the line, and the hint lists the accepted keys.
    """
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.is_file():
        raise InvalidInputError(
            f"no manifest at {path}",
            hint=f"create {MANIFEST_NAME} at the target's root or pass --target DIR",
        )
    text = read_text(path)
    key = path.resolve()
    cached = _PARSED.get(key)
    if cached is not None and cached[0] == text and _still_rooted(cached[1]):
        return cached[1]
    manifest = parse_manifest(Source.parse(path, text))
    _PARSED[key] = (text, manifest)
    return manifest


# One command reads its target's runbook.toml several times (the command itself, the
# seal's signing-key lookup, the checks); parsing and validating it is most of the work
# of a fast command such as 'rollback now'. A Manifest is immutable, so the same text
# read from the same file gives the same Manifest: it is parsed once per process.
_PARSED: dict[Path, tuple[str, Manifest]] = {}


def _still_rooted(manifest: Manifest) -> bool:
    """The cached root is still a directory, reached without a symlink put in since."""
    return manifest.root.is_dir() and manifest.root.resolve() == manifest.root


def find_manifest(start: Path) -> Path:
    """The nearest ``runbook.toml`` in ``start`` or a directory above it.

    Raises:
        InvalidInputError: there is none up to the file-system root.
    """
    start = start.resolve()
    for directory in (start, *start.parents):
        candidate = directory / MANIFEST_NAME
        if candidate.is_file():
            return candidate
    raise InvalidInputError(
        f"no {MANIFEST_NAME} in {start} or any directory above it",
        hint="run inside a target (e.g. a sandbox from 'runbook sandbox create') or pass --target",
    )
