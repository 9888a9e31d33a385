"""The typed records of a target manifest's sections (``[git]``, ``[env]``, ``[service]``, ...).

Each ``runbook.toml`` section is validated into one of these frozen
records (NamedTuples: :mod:`runbook_lib.base.records` says why) by
:mod:`runbook_lib.target.sections`, and
:class:`~runbook_lib.target.manifest.Manifest` holds them. Paths inside are
relative to the target's root.
"""

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Literal, NamedTuple, TypedDict

DEFAULT_MARGIN = 0.05

# A value of ``[env] factory_kwargs``: what a TOML scalar can hold.
FactoryArg = str | int | float | bool

# The default of a mapping field: one shared empty mapping that nothing can change.
NO_FACTORY_KWARGS: Mapping[str, FactoryArg] = MappingProxyType({})
NO_ENV: Mapping[str, str] = MappingProxyType({})


class FactoryConfig(TypedDict, total=False):
    """How the env worker makes the factory's config (``envworker.Worker._config``)."""

    loader: str
    file: str
    builder: str


class EnvVarSwitch(NamedTuple):
    """An environment variable that selects the env type (seed 000 §1.1)."""

    name: str
    legacy: str
    unified: str


class ConfigSwitch(NamedTuple):
    """The config-file key that selects the env type (seed 000 §1.3)."""

    file: str
    section: str
    key: str
    legacy: str = "false"
    unified: str = "true"
    loader: str | None = None
    builder: str | None = None

    def factory_config(self, root: Path) -> FactoryConfig | None:
        """What the env worker builds the factory's config from (None: the factory gets None).

        ``loader``: ``module:function(path)`` called with this file's absolute
        path; ``builder``: ``module:function()`` returning the config object.
        """
        if self.loader is not None:
            return {"loader": self.loader, "file": str(root / self.file)}
        if self.builder is not None:
            return {"builder": self.builder}
        return None


class ForceFlag(NamedTuple):
    """The module constant that forces the legacy env globally (seed 000 §1.4)."""

    file: str
    constant: str


class CallSite(NamedTuple):
    """The call that a code-level rollback pins to the legacy env (seed 000 §1.2)."""

    file: str
    function: str
    keyword: str = "env_type"


class EnvSpec(NamedTuple):
    """The env factory (an entry point) and its switches."""

    factory: str
    env_type: str | None = None
    logger: str | None = None
    vars: tuple[EnvVarSwitch, ...] = ()
    config: ConfigSwitch | None = None
    force_flag: ForceFlag | None = None
    call_site: CallSite | None = None
    factory_kwargs: Mapping[str, FactoryArg] = NO_FACTORY_KWARGS


class GitSpec(NamedTuple):
    """Where the stable code is and which paths a code rollback restores."""

    stable_ref: str
    release_ref: str | None = None
    code_paths: tuple[str, ...] = ()


class BackupSpec(NamedTuple):
    """The backups directory (timestamped subdirectories) and their checksum file."""

    dir: str
    checksum_file: str = "SHA256SUMS"


class PackageSpec(NamedTuple):
    """The deployed package and its two versions, installed offline from a wheelhouse."""

    name: str
    stable_version: str
    release_version: str
    wheelhouse: str
    site_dir: str


class ServiceSpec(NamedTuple):
    """How the target's service is run: a local ``process`` or a ``systemd`` unit.

    ``port`` is the ``[service] port`` the command's ``{port}`` placeholder
    receives (0, the default: the service binds a free port of its own and
    publishes it in its state file). A command with the placeholder can be
    given another port, which is how a rehearsal runs a second copy beside it.
    """

    name: str
    adapter: Literal["process", "systemd"]
    command: tuple[str, ...] = ()
    env: Mapping[str, str] = NO_ENV
    pidfile: str | None = None
    state_file: str | None = None
    health_path: str = "/health"
    unit: str | None = None
    health_url: str | None = None
    port: int = 0

    def argv(self, python: str) -> list[str]:
        """The command with ``{python}`` and ``{port}`` replaced (the interpreter, the port)."""
        return [
            arg.replace("{python}", python).replace("{port}", str(self.port))
            for arg in self.command
        ]

    @property
    def relocatable(self) -> bool:
        """Whether the command takes its port from ``{port}`` (a copy can get its own)."""
        return self.adapter == "process" and any("{port}" in arg for arg in self.command)


class ModelsSpec(NamedTuple):
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


class TradingBounds(NamedTuple):
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


class TradingSpec(NamedTuple):
    """The target's evaluation command (prints JSON metrics) and the bounds to hold."""

    command: tuple[str, ...]
    bounds: TradingBounds = TradingBounds()

    def argv(self, python: str) -> list[str]:
        """The command with ``{python}`` replaced by the interpreter to use."""
        return [arg.replace("{python}", python) for arg in self.command]


class ChecksSpec(NamedTuple):
    """The target's own validators that the verification checks run."""

    config_command: tuple[str, ...] = ()
    trading: TradingSpec | None = None

    def config_argv(self, python: str) -> list[str]:
        """The config validator's command with ``{python}`` filled in."""
        return [arg.replace("{python}", python) for arg in self.config_command]


# One post to the webhook, retries included, never takes longer than this.
DEFAULT_WEBHOOK_DEADLINE_S = 20.0
