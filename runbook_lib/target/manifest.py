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

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import urlsplit

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.target.tomlcheck import Source, Table, find_secrets, is_env_name, names_a_secret

MANIFEST_NAME = "runbook.toml"
DEFAULT_MARGIN = 0.05

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_ENTRY_POINT = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_MODULE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*$")
_IDENTIFIER = re.compile(r"^[A-Za-z_]\w*$")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")

_TOP = ("secrets", "target", "git", "env", "backups", "models", "package", "service", "tests",
        "parity", "notify", "checks", "archive")  # fmt: skip
_SERVICE_KEYS = ("name", "adapter", "command", "env", "pidfile", "state_file", "health_path",
                 "unit", "health_url")  # fmt: skip
_ENV_KEYS = ("factory", "env_type", "logger", "vars", "config", "force_flag", "call_site")
_PROCESS_ONLY = ("command", "env", "pidfile", "state_file")
_MODELS_KEYS = ("glob", "algo", "env", "env_config", "deployed_key")
# stable-baselines3's algorithms: the class a model zip is loaded with.
SB3_ALGOS = ("A2C", "DDPG", "DQN", "PPO", "SAC", "TD3")
_DOTTED_KEY = re.compile(r"^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*$")
_RAY_ADDRESS = re.compile(r"^(auto|(ray://)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?:\d{1,5})$")
_PARITY_KEYS = ("default_margin", "margins", "ray_address")
_TRADING_BOUNDS = ("max_return_drop", "max_sharpe_drop", "max_drawdown_rise", "max_cost_rise")


@dataclass(frozen=True)
class EnvVarSwitch:
    """An environment variable that selects the env type (seed 000 §1.1)."""

    name: str
    legacy: str
    unified: str


@dataclass(frozen=True)
class ConfigSwitch:
    """The config-file key that selects the env type (seed 000 §1.3)."""

    file: str
    section: str
    key: str
    legacy: str = "false"
    unified: str = "true"


@dataclass(frozen=True)
class ForceFlag:
    """The module constant that forces the legacy env globally (seed 000 §1.4)."""

    file: str
    constant: str


@dataclass(frozen=True)
class CallSite:
    """The call that a code-level rollback pins to the legacy env (seed 000 §1.2)."""

    file: str
    function: str
    keyword: str = "env_type"


@dataclass(frozen=True)
class EnvSpec:
    """The env factory (an entry point) and its switches."""

    factory: str
    env_type: str | None = None
    logger: str | None = None
    vars: tuple[EnvVarSwitch, ...] = ()
    config: ConfigSwitch | None = None
    force_flag: ForceFlag | None = None
    call_site: CallSite | None = None


@dataclass(frozen=True)
class GitSpec:
    """Where the stable code is and which paths a code rollback restores."""

    stable_ref: str
    release_ref: str | None = None
    code_paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class BackupSpec:
    """The backups directory (timestamped subdirectories) and their checksum file."""

    dir: str
    checksum_file: str = "SHA256SUMS"


@dataclass(frozen=True)
class PackageSpec:
    """The deployed package and its two versions, installed offline from a wheelhouse."""

    name: str
    stable_version: str
    release_version: str
    wheelhouse: str
    site_dir: str


@dataclass(frozen=True)
class ServiceSpec:
    """How the target's service is run: a local ``process`` or a ``systemd`` unit."""

    name: str
    adapter: Literal["process", "systemd"]
    command: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    pidfile: str | None = None
    state_file: str | None = None
    health_path: str = "/health"
    unit: str | None = None
    health_url: str | None = None

    def argv(self, python: str) -> list[str]:
        """The command with ``{python}`` replaced by the interpreter to use."""
        return [arg.replace("{python}", python) for arg in self.command]


@dataclass(frozen=True)
class ModelsSpec:
    """The target's model files, the SB3 algorithm they load with, and the env they must fit.

    Attributes:
        glob: The model files, relative to the root (``models/sac_*.zip``).
        algo: The stable-baselines3 class that loads them (``SAC``).
        env: Entry point (``module:callable``) that builds the env the deployed
            model must fit; called with the parsed :attr:`env_config`, or with
            no argument when there is none.
        env_config: A JSON file (relative path) passed, parsed, to :attr:`env`.
        deployed_key: Dotted key of :attr:`env_config` naming the deployed
            model's path; without it every model must fit the env.
    """

    glob: str
    algo: str = "SAC"
    env: str | None = None
    env_config: str | None = None
    deployed_key: str | None = None


@dataclass(frozen=True)
class TradingBounds:
    """How far the current model may trail the stable baseline (absolute differences).

    Attributes:
        max_return_drop: Mean total return may be at most this much lower (0.05 = 5 points).
        max_sharpe_drop: Mean Sharpe ratio may be at most this much lower.
        max_drawdown_rise: Mean maximum drawdown may be at most this much higher.
        max_cost_rise: Mean transaction costs (fraction of equity) may be at most this much higher.
    """

    max_return_drop: float = 0.05
    max_sharpe_drop: float = 0.5
    max_drawdown_rise: float = 0.05
    max_cost_rise: float = 0.03


@dataclass(frozen=True)
class TradingSpec:
    """The target's evaluation command (prints JSON metrics) and the bounds to hold."""

    command: tuple[str, ...]
    bounds: TradingBounds = field(default_factory=TradingBounds)

    def argv(self, python: str) -> list[str]:
        """The command with ``{python}`` replaced by the interpreter to use."""
        return [arg.replace("{python}", python) for arg in self.command]


@dataclass(frozen=True)
class ChecksSpec:
    """The target's own validators that the verification checks run."""

    config_command: tuple[str, ...] = ()
    trading: TradingSpec | None = None

    def config_argv(self, python: str) -> list[str]:
        """The config validator's command with ``{python}`` filled in."""
        return [arg.replace("{python}", python) for arg in self.config_command]


# One post to the webhook, retries included, never takes longer than this.
DEFAULT_WEBHOOK_DEADLINE_S = 20.0


@dataclass(frozen=True)
class Manifest:
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
    default_margin: float = DEFAULT_MARGIN
    margins: Mapping[str, float] = field(default_factory=dict)
    ray_address: str | None = None
    webhook_url: str | None = None
    webhook_url_env: str | None = None
    webhook_deadline_s: float = DEFAULT_WEBHOOK_DEADLINE_S
    secrets: tuple[str, ...] = ()
    models: ModelsSpec | None = None
    checks: ChecksSpec | None = None
    archive_dir: str | None = None

    def resolve(self, relative: str) -> Path:
        """The absolute path of a manifest path (relative to the target's root)."""
        return self.root / relative

    def margin(self, metric: str) -> float:
        """The parity margin of ``metric`` (relative, e.g. 0.05), or the default one."""
        return self.margins.get(metric, self.default_margin)

    def test_argv(self, python: str, junit: Path) -> list[str]:
        """The target's test command with ``{python}`` and ``{junit}`` filled in."""
        return [a.replace("{python}", python).replace("{junit}", str(junit))
                for a in self.test_command]  # fmt: skip

    def missing_secrets(self, environ: Mapping[str, str]) -> list[str]:
        """Names in :attr:`secrets` that ``environ`` does not set."""
        return [name for name in self.secrets if not environ.get(name)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["path"] = str(self.path)
        data["root"] = str(self.root)
        return data


def _relative(table: Table, key: str, value: str) -> str:
    pure = PurePosixPath(value)
    if pure.is_absolute() or ".." in pure.parts or "\\" in value:
        table.fail(
            key,
            f"{value!r} must be a path relative to the target's root, inside it",
            hint="write it like 'src/rl/sac/' or 'models/sac_*.zip'",
        )
    return value


def _path(table: Table, key: str) -> str:
    return _relative(table, key, table.text(key))


def _matching(table: Table, key: str, pattern: re.Pattern[str], what: str) -> str:
    value = table.text(key)
    if not pattern.match(value):
        table.fail(key, f"{value!r} is not {what}")
    return value


def _argv(table: Table, key: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    argv = table.texts(key)
    if not argv:
        table.fail(key, "must list at least the program to run")
    for arg in argv:
        for name in _PLACEHOLDER.findall(arg):
            if name not in allowed:
                known = ", ".join("{" + a + "}" for a in allowed)
                hint = f"placeholders here: {known}"
                table.fail(key, f"unknown placeholder {{{name}}} in {arg!r}", hint=hint)
    return argv


def _git(top: Table) -> GitSpec:
    table = top.table("git", ("stable_ref", "release_ref", "code_paths"))
    code_paths = table.texts("code_paths", required=False)
    paths = tuple(_relative(table, "code_paths", path) for path in code_paths)
    return GitSpec(table.text("stable_ref"), table.opt_text("release_ref"), paths)


def _env_vars(table: Table) -> tuple[EnvVarSwitch, ...]:
    switches = []
    for var in table.tables("vars", ("name", "legacy", "unified")):
        name = var.text("name")
        if not is_env_name(name):
            var.fail("name", f"{name!r} is not an environment variable name")
        switches.append(EnvVarSwitch(name, var.text("legacy"), var.text("unified")))
    return tuple(switches)


def _config_switch(table: Table) -> ConfigSwitch | None:
    config = table.opt_table("config", ("file", "section", "key", "legacy", "unified"))
    if config is None:
        return None
    legacy = config.opt_text("legacy", "false") or "false"
    unified = config.opt_text("unified", "true") or "true"
    return ConfigSwitch(
        _path(config, "file"), config.text("section"), config.text("key"), legacy, unified
    )


def _force_flag(table: Table) -> ForceFlag | None:
    flag = table.opt_table("force_flag", ("file", "constant"))
    if flag is None:
        return None
    constant = _matching(flag, "constant", _IDENTIFIER, "a Python identifier")
    return ForceFlag(_path(flag, "file"), constant)


def _call_site(table: Table) -> CallSite | None:
    site = table.opt_table("call_site", ("file", "function", "keyword"))
    if site is None:
        return None
    function = _matching(site, "function", _IDENTIFIER, "a Python function name")
    keyword = _matching(site, "keyword", _IDENTIFIER, "a keyword") if site.has("keyword") else None
    return CallSite(_path(site, "file"), function, keyword or "env_type")


def _env(top: Table) -> EnvSpec | None:
    table = top.opt_table("env", _ENV_KEYS)
    if table is None:
        return None
    entry = "an entry point like 'package.module:function'"
    factory = _matching(table, "factory", _ENTRY_POINT, entry)
    env_type = _matching(table, "env_type", _ENTRY_POINT, entry) if table.has("env_type") else None
    logger = _matching(table, "logger", _MODULE, "a logger name") if table.has("logger") else None
    return EnvSpec(
        factory,
        env_type,
        logger,
        vars=_env_vars(table),
        config=_config_switch(table),
        force_flag=_force_flag(table),
        call_site=_call_site(table),
    )


def _backups(top: Table) -> BackupSpec | None:
    table = top.opt_table("backups", ("dir", "checksum_file"))
    if table is None:
        return None
    checksum = table.opt_text("checksum_file") or "SHA256SUMS"
    if "/" in checksum:
        table.fail("checksum_file", f"{checksum!r} must be a file name, not a path")
    return BackupSpec(_path(table, "dir"), checksum)


def _models(top: Table) -> ModelsSpec | None:
    table = top.opt_table("models", _MODELS_KEYS)
    if table is None:
        return None
    algo = table.opt_text("algo") or "SAC"
    if algo not in SB3_ALGOS:
        table.fail("algo", f"{algo!r} is not a stable-baselines3 algorithm",
                   hint=f"one of: {', '.join(SB3_ALGOS)}")  # fmt: skip
    entry = "an entry point like 'package.module:function'"
    env = _matching(table, "env", _ENTRY_POINT, entry) if table.has("env") else None
    env_config = _path(table, "env_config") if table.has("env_config") else None
    if env_config is not None and env is None:
        table.fail("env_config", "needs 'env', the entry point it is passed to")
    key = None
    if table.has("deployed_key"):
        key = _matching(table, "deployed_key", _DOTTED_KEY, "a dotted key like 'model_path'")
        if env_config is None:
            table.fail("deployed_key", "needs 'env_config', the JSON file that holds the key")
    return ModelsSpec(_path(table, "glob"), algo, env, env_config, key)


def _bound(table: Table, key: str, default: float) -> float:
    value = table.number(key, default)
    if value < 0:
        table.fail(key, f"{value} must not be negative (it is how far the model may trail)")
    return value


def _trading(checks: Table) -> TradingSpec | None:
    table = checks.opt_table("trading", ("command", *_TRADING_BOUNDS))
    if table is None:
        return None
    default = TradingBounds()
    bounds = TradingBounds(*(_bound(table, key, getattr(default, key)) for key in _TRADING_BOUNDS))
    return TradingSpec(_argv(table, "command", ("python",)), bounds)


def _checks(top: Table) -> ChecksSpec | None:
    table = top.opt_table("checks", ("config_command", "trading"))
    if table is None:
        return None
    command = _argv(table, "config_command", ("python",)) if table.has("config_command") else ()
    return ChecksSpec(command, _trading(table))


def _package(top: Table) -> PackageSpec | None:
    table = top.opt_table("package", ("name", "stable_version", "release_version", "wheelhouse",
                                      "site_dir"))  # fmt: skip
    if table is None:
        return None
    return PackageSpec(table.text("name"), table.text("stable_version"),
                       table.text("release_version"), _path(table, "wheelhouse"),
                       _path(table, "site_dir"))  # fmt: skip


def _url(table: Table, key: str) -> str | None:
    url = table.opt_text(key)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        table.fail(key, f"{url!r} is not an http(s) URL")
    if parts.password:
        table.fail(key, "must not carry a password; name the variable that holds it in 'secrets'")
    return url


def _service_env(table: Table) -> dict[str, str]:
    env = table.strings("env")
    for name in env:
        if not is_env_name(name):
            table.fail("env", f"{name!r} is not an environment variable name")
        if names_a_secret(name):
            table.fail(
                "env",
                f"{name} looks like a secret and may not be set here",
                hint=f"list {name!r} in 'secrets' and set it in the environment",
            )
    return env


def _service(top: Table) -> ServiceSpec | None:
    table = top.opt_table("service", _SERVICE_KEYS)
    if table is None:
        return None
    name = _matching(table, "name", _NAME, "a service name (letters, digits, . _ -)")
    adapter = table.text("adapter")
    health_url = _url(table, "health_url")
    health_path = table.opt_text("health_path") or "/health"
    if not health_path.startswith("/"):
        table.fail("health_path", f"{health_path!r} must start with '/'")
    if adapter == "systemd":
        for key in _PROCESS_ONLY:
            if table.has(key):
                table.fail(key, "applies only to adapter 'process'")
        return ServiceSpec(name, "systemd", health_path=health_path,
                           unit=table.text("unit"), health_url=health_url)  # fmt: skip
    if adapter != "process":
        table.fail(
            "adapter",
            f"{adapter!r} is not a service adapter",
            hint="use 'process' (command, pidfile, state_file) or 'systemd' (unit)",
        )
    if table.has("unit"):
        table.fail("unit", "applies only to adapter 'systemd'")
    return ServiceSpec(name, "process", _argv(table, "command", ("python",)), _service_env(table),
                       _path(table, "pidfile"), _path(table, "state_file"), health_path,
                       health_url=health_url)  # fmt: skip


def _margin(table: Table, key: str, default: float) -> float:
    value = table.number(key, default)
    if not 0 < value < 1:
        table.fail(key, f"{value} must lie between 0 and 1 (0.05 means 5%)")
    return value


def _margins(top: Table) -> tuple[float, dict[str, float]]:
    table = top.opt_table("parity", _PARITY_KEYS)
    if table is None:
        return DEFAULT_MARGIN, {}
    default = _margin(table, "default_margin", DEFAULT_MARGIN)
    metrics = table.data.get("margins")
    # Any metric name is accepted here: the parity engine decides which ones it measures.
    sub = table.opt_table("margins", tuple(metrics) if isinstance(metrics, dict) else ())
    if sub is None:
        return default, {}
    return default, {metric: _margin(sub, metric, default) for metric in sub.data}


def _ray_address(top: Table) -> str | None:
    table = top.opt_table("parity", _PARITY_KEYS)
    if table is None or table.opt_text("ray_address") is None:
        return None
    return _matching(table, "ray_address", _RAY_ADDRESS,
                     "a Ray address ('auto', 'host:port' or 'ray://host:port')")  # fmt: skip


def _notify_deadline(top: Table) -> float:
    table = top.opt_table("notify", _NOTIFY_KEYS)
    if table is None:
        return DEFAULT_WEBHOOK_DEADLINE_S
    value = table.number("deadline_s", DEFAULT_WEBHOOK_DEADLINE_S)
    if not 0 < value <= 600:
        table.fail("deadline_s", f"{value} must be a number of seconds above 0, at most 600")
    return value


_NOTIFY_KEYS = ("webhook_url", "webhook_url_env", "deadline_s")


def _notify(top: Table) -> tuple[str | None, str | None]:
    table = top.opt_table("notify", _NOTIFY_KEYS)
    if table is None:
        return None, None
    env_name = table.opt_text("webhook_url_env")
    if env_name is not None and not is_env_name(env_name):
        table.fail("webhook_url_env", f"{env_name!r} is not an environment variable name")
    return _url(table, "webhook_url"), env_name


def _archive_dir(top: Table) -> str | None:
    table = top.opt_table("archive", ("dir",))
    # Relative to the target's root; an absolute path puts the evidence elsewhere.
    return table.opt_text("dir") if table is not None else None


def _secrets(top: Table) -> tuple[str, ...]:
    names = top.texts("secrets", required=False)
    for name in names:
        if not is_env_name(name):
            top.fail("secrets", f"{name!r} is not the name of an environment variable",
                     hint="'secrets' lists variable names like \"TRADE_API_TOKEN\", never the "
                          "secret values themselves")  # fmt: skip
    return names


def _root(source: Source, target: Table) -> Path:
    home = source.path.parent.resolve()
    root = (source.path.parent / (target.opt_text("root") or ".")).resolve()
    if not root.is_relative_to(home):
        target.fail("root", f"{root} is outside {home}, the manifest's directory",
                    hint="the root must be the manifest's directory or below it")  # fmt: skip
    if not root.is_dir():
        target.fail("root", f"{root} is not a directory")
    return root


def parse_manifest(source: Source) -> Manifest:
    """Validate a parsed ``runbook.toml``; see :func:`load_manifest`."""
    top = Table(source, (), source.data, _TOP)
    find_secrets(source)  # first, so that no later message repeats a secret
    secrets = _secrets(top)
    target = top.table("target", ("name", "root"))
    name = _matching(target, "name", _NAME, "a target name (letters, digits, . _ -)")
    models = _models(top)
    tests = top.opt_table("tests", ("command",))
    default_margin, margins = _margins(top)
    webhook_url, webhook_env = _notify(top)
    return Manifest(
        path=source.path.resolve(),
        name=name,
        root=_root(source, target),
        git=_git(top),
        env=_env(top),
        backups=_backups(top),
        models_glob=models.glob if models is not None else None,
        package=_package(top),
        service=_service(top),
        test_command=_argv(tests, "command", ("python", "junit")) if tests is not None else (),
        default_margin=default_margin,
        margins=margins,
        ray_address=_ray_address(top),
        webhook_url=webhook_url,
        webhook_url_env=webhook_env,
        webhook_deadline_s=_notify_deadline(top),
        secrets=secrets,
        models=models,
        checks=_checks(top),
        archive_dir=_archive_dir(top),
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
    return parse_manifest(Source.read(path))


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
