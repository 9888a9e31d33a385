"""Validate each section of a parsed ``runbook.toml`` into its typed record.

One function per section (``[git]``, ``[env]``, ``[models]``, ``[service]``,
...) checks its keys, types, paths and patterns and returns the record of
:mod:`runbook_lib.target.specs`; a bad value fails through
:meth:`~runbook_lib.target.tomlcheck.Table.fail`, naming the key, the file and
the line. :func:`~runbook_lib.target.manifest.parse_manifest` calls them in order.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from runbook_lib.target.specs import (
    BackupSpec,
    CallSite,
    ChecksSpec,
    ConfigSwitch,
    EnvSpec,
    EnvVarSwitch,
    FactoryArg,
    ForceFlag,
    GitSpec,
    ModelsSpec,
    PackageSpec,
    TradingBounds,
    TradingSpec,
)
from runbook_lib.target.tomlcheck import Source, Table, is_env_name

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_ENTRY_POINT = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_MODULE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*$")
_IDENTIFIER = re.compile(r"^[A-Za-z_]\w*$")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")

_ENV_KEYS = (
    "factory",
    "env_type",
    "logger",
    "vars",
    "config",
    "force_flag",
    "call_site",
    "factory_kwargs",
)
_CONFIG_KEYS = ("file", "section", "key", "legacy", "unified", "loader", "builder")
_MODELS_KEYS = ("glob", "algo", "env", "env_config", "deployed_key")
# stable-baselines3's algorithms: the class a model zip is loaded with.
SB3_ALGOS = ("A2C", "DDPG", "DQN", "PPO", "SAC", "TD3")
_DOTTED_KEY = re.compile(r"^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*$")
_TRADING_BOUNDS = ("max_return_drop", "max_sharpe_drop", "max_drawdown_rise", "max_cost_rise")


def _relative(table: Table, key: str, value: str) -> str:
    pure = PurePosixPath(value)
    if pure.is_absolute() or ".." in pure.parts or "\\" in value:
        table.fail(
            key,
            f"{value!r} must be a path relative to the target's root, inside it",
            hint="write it like 'src/rl/sac/' or 'models/sac_*.zip'",
        )
    return value


def rel_path(table: Table, key: str) -> str:
    """The path at ``key``, relative to the target root (refused when it leaves it)."""
    return _relative(table, key, table.text(key))


def matched(table: Table, key: str, pattern: re.Pattern[str], what: str) -> str:
    """The text at ``key`` when it matches ``pattern``; else the error names ``what``."""
    value = table.text(key)
    if not pattern.match(value):
        table.fail(key, f"{value!r} is not {what}")
    return value


def argv_of(table: Table, key: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """The command line at ``key``; its ``{placeholders}`` must be among ``allowed``."""
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


def git_section(top: Table) -> GitSpec:
    """The ``[git]`` section: the stable ref, the release ref and the code paths."""
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
    config = table.opt_table("config", _CONFIG_KEYS)
    if config is None:
        return None
    legacy = config.opt_text("legacy", "false") or "false"
    unified = config.opt_text("unified", "true") or "true"
    entry = "an entry point like 'package.module:function'"
    loader = matched(config, "loader", _ENTRY_POINT, entry) if config.has("loader") else None
    builder = matched(config, "builder", _ENTRY_POINT, entry) if config.has("builder") else None
    if loader and builder:
        config.fail("builder", "set 'loader' (called with the file) or 'builder', not both")
    return ConfigSwitch(
        rel_path(config, "file"),
        config.text("section"),
        config.text("key"),
        legacy,
        unified,
        loader=loader,
        builder=builder,
    )


def _factory_kwargs(table: Table) -> dict[str, FactoryArg]:
    raw = table.data.get("factory_kwargs")
    kwargs = table.opt_table("factory_kwargs", tuple(raw) if isinstance(raw, dict) else ())
    if kwargs is None:
        return {}
    found: dict[str, FactoryArg] = {}
    for name, value in kwargs.data.items():
        if not _IDENTIFIER.match(name):
            kwargs.fail(name, f"{name!r} is not a keyword argument name")
        if not isinstance(value, str | int | float | bool):
            kwargs.fail(name, f"{value!r} must be a string, number or boolean")
        found[name] = value
    return found


def _force_flag(table: Table) -> ForceFlag | None:
    flag = table.opt_table("force_flag", ("file", "constant"))
    if flag is None:
        return None
    constant = matched(flag, "constant", _IDENTIFIER, "a Python identifier")
    return ForceFlag(rel_path(flag, "file"), constant)


def _call_site(table: Table) -> CallSite | None:
    site = table.opt_table("call_site", ("file", "function", "keyword"))
    if site is None:
        return None
    function = matched(site, "function", _IDENTIFIER, "a Python function name")
    keyword = matched(site, "keyword", _IDENTIFIER, "a keyword") if site.has("keyword") else None
    return CallSite(rel_path(site, "file"), function, keyword or "env_type")


def env_section(top: Table) -> EnvSpec | None:
    """The ``[env]`` section (factory, env type, logger, switches), if present."""
    table = top.opt_table("env", _ENV_KEYS)
    if table is None:
        return None
    entry = "an entry point like 'package.module:function'"
    factory = matched(table, "factory", _ENTRY_POINT, entry)
    env_type = matched(table, "env_type", _ENTRY_POINT, entry) if table.has("env_type") else None
    logger = matched(table, "logger", _MODULE, "a logger name") if table.has("logger") else None
    return EnvSpec(
        factory,
        env_type,
        logger,
        vars=_env_vars(table),
        config=_config_switch(table),
        force_flag=_force_flag(table),
        call_site=_call_site(table),
        factory_kwargs=_factory_kwargs(table),
    )


def backups_section(top: Table) -> BackupSpec | None:
    """The ``[backups]`` section (directory and checksum file), if present."""
    table = top.opt_table("backups", ("dir", "checksum_file"))
    if table is None:
        return None
    checksum = table.opt_text("checksum_file") or "SHA256SUMS"
    if "/" in checksum:
        table.fail("checksum_file", f"{checksum!r} must be a file name, not a path")
    return BackupSpec(rel_path(table, "dir"), checksum)


def models_section(top: Table) -> ModelsSpec | None:
    """The ``[models]`` section (glob, algorithm, env to fit), if present."""
    table = top.opt_table("models", _MODELS_KEYS)
    if table is None:
        return None
    algo = table.opt_text("algo") or "SAC"
    if algo not in SB3_ALGOS:
        table.fail(
            "algo",
            f"{algo!r} is not a stable-baselines3 algorithm",
            hint=f"one of: {', '.join(SB3_ALGOS)}",
        )
    entry = "an entry point like 'package.module:function'"
    env = matched(table, "env", _ENTRY_POINT, entry) if table.has("env") else None
    env_config = rel_path(table, "env_config") if table.has("env_config") else None
    if env_config is not None and env is None:
        table.fail("env_config", "needs 'env', the entry point it is passed to")
    key = None
    if table.has("deployed_key"):
        key = matched(table, "deployed_key", _DOTTED_KEY, "a dotted key like 'model_path'")
        if env_config is None:
            table.fail("deployed_key", "needs 'env_config', the JSON file that holds the key")
    return ModelsSpec(rel_path(table, "glob"), algo, env, env_config, key)


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
    return TradingSpec(argv_of(table, "command", ("python",)), bounds)


def checks_section(top: Table) -> ChecksSpec | None:
    """The ``[checks]`` section (config validator, trading bounds), if present."""
    table = top.opt_table("checks", ("config_command", "trading"))
    if table is None:
        return None
    command = argv_of(table, "config_command", ("python",)) if table.has("config_command") else ()
    return ChecksSpec(command, _trading(table))


def package_section(top: Table) -> PackageSpec | None:
    """The ``[package]`` section (name, versions, wheelhouse), if present."""
    table = top.opt_table(
        "package", ("name", "stable_version", "release_version", "wheelhouse", "site_dir")
    )
    if table is None:
        return None
    return PackageSpec(
        table.text("name"),
        table.text("stable_version"),
        table.text("release_version"),
        rel_path(table, "wheelhouse"),
        rel_path(table, "site_dir"),
    )


def archive_section(top: Table) -> str | None:
    """The ``[archive]`` dir, if set."""
    table = top.opt_table("archive", ("dir",))
    # Relative to the target's root; an absolute path puts the evidence elsewhere.
    return table.opt_text("dir") if table is not None else None


def evidence_section(top: Table) -> str | None:
    """The ``[evidence] signing_key``: the Ed25519 private key's path, if set.

    Relative to the target's root, or absolute; ``$RUNBOOK_SIGNING_KEY`` wins over it.
    """
    table = top.opt_table("evidence", ("signing_key",))
    return table.opt_text("signing_key") if table is not None else None


def secret_names(top: Table) -> tuple[str, ...]:
    """The top-level ``secrets``: names of the environment variables holding secrets."""
    names = top.texts("secrets", required=False)
    for name in names:
        if not is_env_name(name):
            top.fail(
                "secrets",
                f"{name!r} is not the name of an environment variable",
                hint="'secrets' lists variable names like \"TRADE_API_TOKEN\", never the "
                "secret values themselves",
            )
    return names


def target_root(source: Source, target: Table) -> Path:
    """The ``[target]`` root (default: the manifest's directory), resolved; never above it."""
    home = source.path.parent.resolve()
    root = (source.path.parent / (target.opt_text("root") or ".")).resolve()
    if not root.is_relative_to(home):
        target.fail(
            "root",
            f"{root} is outside {home}, the manifest's directory",
            hint="the root must be the manifest's directory or below it",
        )
    if not root.is_dir():
        target.fail("root", f"{root} is not a directory")
    return root


def target_python(target: Table) -> str | None:
    """The ``[target]`` python: the target's interpreter, relative to the root, if set."""
    return rel_path(target, "python") if target.has("python") else None


def target_name(target: Table) -> str:
    """The ``[target]`` name: letters, digits, ``.``, ``_`` and ``-``."""
    return matched(target, "name", NAME_PATTERN, "a target name (letters, digits, . _ -)")


def tests_command(tests: Table) -> tuple[str, ...]:
    """The ``[tests]`` command; it may use ``{python}`` and ``{junit}``."""
    return argv_of(tests, "command", ("python", "junit"))


def rollback_tests_command(tests: Table) -> tuple[str, ...]:
    """``[tests] rollback_command``: the target's rollback tests (default the ``[tests]`` command).

    Seed 000 §4's "verify rollback works" suite, which ``runbook readiness`` runs
    after each rehearsed rollback; the same placeholders as ``command``.
    """
    if not tests.has("rollback_command"):
        return tests_command(tests)
    return argv_of(tests, "rollback_command", ("python", "junit"))
