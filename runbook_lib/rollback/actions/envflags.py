"""Seed 000's four ways to select the legacy env, as rollback actions.

* ``env-var`` (§1.1): ``.runbook/rollback.env`` with ``USE_UNIFIED_ENV=0`` and
  ``RL_ENV_TYPE=legacy``; the runner applies it to every process it starts.
* ``config-flag`` (§1.3): ``[rl] use_unified_env = false``, comments kept.
* ``code-level`` (§1.2): the designated call site passes ``env_type=EnvType.LEGACY``.
* ``force-flag`` (§1.4): ``_FORCE_LEGACY_ENV = True`` in the factory module.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from runbook_lib.base import crashpoints
from runbook_lib.base.errors import InvalidInputError, WorkspaceError
from runbook_lib.base.fsutil import atomic_write_text, read_nofollow
from runbook_lib.rollback.actions.base import Action, Context, file_change
from runbook_lib.rollback.actions.files import resolve, state_of
from runbook_lib.rollback.actions.model import Step

# pyedit (ast, tokenize) and inifile (configparser) are imported by the methods that
# use them: the env-var step of 'runbook rollback now' needs neither.
from runbook_lib.target.envfile import (
    ROLLBACK_ENV_FILE,
    export_lines,
    read_rollback_env,
    render_env_file,
)


def _read_text(root: Path, relative: str, what: str) -> str:
    path = resolve(root, relative)
    if not path.is_file():
        raise InvalidInputError(f"{what} {path} does not exist", hint="check runbook.toml")
    return read_nofollow(path).decode("utf-8")


def _step(action: Action, title: str, root: Path, *, relative: str, new: str, summary: str) -> Step:
    blobs: dict[str, bytes] = {}
    change = file_change(root, relative, new.encode("utf-8"), summary, blobs)
    params = action.params()
    if change is None:
        return Step(action=action.name, title=f"{title} (already in effect)", params=params)
    return Step(action=action.name, title=title, changes=(change,), params=params, blobs=blobs)


class EnvVarAction(Action):
    """Write the env-var rollback file (seed 000 §1.1, immediate rollback)."""

    name: ClassVar[str] = "env-var"

    def __init__(self, variables: Mapping[str, str], note: str = "") -> None:
        """Set ``variables`` (name to rollback value); ``note`` heads the file."""
        self.variables = variables
        self.note = note

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> EnvVarAction:
        """Rebuild from a step's params."""
        return cls(variables=dict(params["variables"]), note=str(params.get("note", "")))

    def params(self) -> dict[str, Any]:
        """What :meth:`from_params` needs."""
        return {"variables": dict(self.variables), "note": self.note}

    def plan(self, root: Path) -> Step:
        """Plan the rollback env file with the variables merged into any already set."""
        merged = {**read_rollback_env(root), **self.variables}
        summary = ", ".join(f"{k}={v}" for k, v in self.variables.items())
        title = "select the legacy env by environment variables"
        text = render_env_file(merged, self.note)
        step = _step(self, title, root, relative=ROLLBACK_ENV_FILE, new=text, summary=summary)
        return Step(
            action=step.action,
            title=step.title,
            changes=step.changes,
            commands=tuple(export_lines(self.variables)),
            params=step.params,
            blobs=step.blobs,
        )

    def verify_state(self, step: Step, ctx: Context) -> list[str]:
        """The file sets every variable to its rollback value."""
        current = read_rollback_env(ctx.root)
        return [
            f"{name}={current.get(name)!r} in {ROLLBACK_ENV_FILE}, expected {value!r}"
            for name, value in self.variables.items()
            if current.get(name) != value
        ]


class ConfigFlagAction(Action):
    """Set ``[section] key = value`` in the target's INI config (seed 000 §1.3)."""

    name: ClassVar[str] = "config-flag"

    def __init__(self, file: str, section: str, key: str, value: str) -> None:
        """Set ``key`` of ``[section]`` in ``file`` (relative to the root) to ``value``."""
        self.file = file
        self.section = section
        self.key = key
        self.value = value

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ConfigFlagAction:
        """Rebuild from a step's params."""
        return cls(**{k: str(params[k]) for k in ("file", "section", "key", "value")})

    def params(self) -> dict[str, Any]:
        """What :meth:`from_params` needs."""
        return {"file": self.file, "section": self.section, "key": self.key, "value": self.value}

    def plan(self, root: Path) -> Step:
        """Plan the one-line edit of the config file."""
        from runbook_lib.target import inifile

        text = _read_text(root, self.file, "config file")
        inifile.strict_parse(text, self.file)  # a file the target cannot read is refused now
        old = inifile.read_value(text, self.section, self.key)
        new_text = inifile.set_value(text, self.section, self.key, self.value)
        found = inifile.effective_value(new_text, self.section, self.key, self.file)
        if (found or "").lower() != self.value.lower():
            raise InvalidInputError(
                f"{self.file}: setting [{self.section}] {self.key} would leave it {found!r}",
                hint="edit the file by hand; the rollback cannot set this key safely",
            )
        where = f"line {old.line}" if old.line else "new key"
        summary = f"[{self.section}] {self.key}: {old.value} -> {self.value} ({where})"
        title = f"set [{self.section}] {self.key} = {self.value} in {self.file}"
        return _step(self, title, root, relative=self.file, new=new_text, summary=summary)

    def undo(self, step: Step, ctx: Context) -> None:
        """Put the key's old value back; other edits made since the rollback are kept.

        Operators edit configs during an incident (seed 000's fix may be one):
        when the file changed after the rollback but the key still holds the
        rollback value, only that key is restored instead of refusing.
        """
        from runbook_lib.target import inifile

        change = step.changes[0] if step.changes else None
        if change is None or change.before is None or state_of(ctx.root, change) != "other":
            super().undo(step, ctx)
            return
        text = _read_text(ctx.root, self.file, "config file")
        if (
            inifile.read_value(text, self.section, self.key).value or ""
        ).lower() != self.value.lower():
            super().undo(step, ctx)  # the key itself was changed: refuse, naming the file
            return
        before = ctx.store.get(change.before).decode("utf-8")
        old = inifile.read_value(before, self.section, self.key).value
        if old is not None:
            crashpoints.reach(f"write {self.file}")
            new = inifile.set_value(text, self.section, self.key, old)
            atomic_write_text(resolve(ctx.root, self.file), new, within=ctx.root)

    def apply(self, step: Step, ctx: Context) -> None:
        """Write the file, then re-parse it as the target does and confirm the key's value."""
        from runbook_lib.target import inifile

        super().apply(step, ctx)
        text = _read_text(ctx.root, self.file, "config file")
        found = inifile.effective_value(text, self.section, self.key, self.file)
        if (found or "").lower() != self.value.lower():
            raise WorkspaceError(
                f"{self.file}: after writing, [{self.section}] {self.key} reads {found!r}, "
                f"not {self.value!r}",
                hint="'runbook rollback undo' puts the file back",
            )

    def verify_state(self, step: Step, ctx: Context) -> list[str]:
        """The key holds the rollback value, as the target's own strict reader sees it."""
        from runbook_lib.target import inifile

        text = _read_text(ctx.root, self.file, "config file")
        try:
            found = inifile.effective_value(text, self.section, self.key, self.file)
        except InvalidInputError as err:
            return [str(err)]
        if found is None or found.lower() != self.value.lower():
            return [f"[{self.section}] {self.key} is {found!r} in {self.file}"]
        return []


class ForceFlagAction(Action):
    """Set the factory's global force switch (seed 000 §1.4)."""

    name: ClassVar[str] = "force-flag"

    def __init__(self, module: str, constant: str, value: bool = True) -> None:
        """Set ``constant`` in ``module`` (a file relative to the root) to ``value``."""
        self.module = module
        self.constant = constant
        self.value = value

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ForceFlagAction:
        """Rebuild from a step's params."""
        return cls(str(params["module"]), str(params["constant"]), bool(params["value"]))

    def params(self) -> dict[str, Any]:
        """What :meth:`from_params` needs."""
        return {"module": self.module, "constant": self.constant, "value": self.value}

    def plan(self, root: Path) -> Step:
        """Plan the edit of the constant's value, located by parsing the module."""
        from runbook_lib.rollback.actions import pyedit

        source = _read_text(root, self.module, "module")
        edit = pyedit.constant_edit(source, self.constant, repr(self.value), filename=self.module)
        summary = f"{self.constant} = {edit.old_text} -> {self.value!r} (line {edit.line})"
        title = f"set {self.constant} = {self.value!r} in {self.module}"
        new = pyedit.apply_edit(source, edit)
        return _step(self, title, root, relative=self.module, new=new, summary=summary)

    def verify_state(self, step: Step, ctx: Context) -> list[str]:
        """The module, parsed, assigns the rollback value."""
        from runbook_lib.rollback.actions import pyedit

        source = _read_text(ctx.root, self.module, "module")
        found = pyedit.read_constant(source, self.constant, filename=self.module)
        return [] if found is self.value else [f"{self.constant} is {found!r} in {self.module}"]


class CodeLevelAction(Action):
    """Make the designated call site request the legacy env (seed 000 §1.2)."""

    name: ClassVar[str] = "code-level"

    def __init__(
        self,
        module: str,
        function: str,
        *,
        keyword: str = "env_type",
        enum_name: str = "EnvType",
        member: str = "LEGACY",
        literal: str = "legacy",
    ) -> None:
        """At ``function``'s call in ``module``, pass ``keyword=enum_name.member``.

        A call site that passes strings gets ``keyword=literal`` instead.
        """
        self.module = module
        self.function = function
        self.keyword = keyword
        self.enum_name = enum_name
        self.member = member
        self.literal = literal

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> CodeLevelAction:
        """Rebuild from a step's params."""
        return cls(**{key: str(value) for key, value in params.items()})

    def params(self) -> dict[str, Any]:
        """What :meth:`from_params` needs."""
        return {
            "module": self.module,
            "function": self.function,
            "keyword": self.keyword,
            "enum_name": self.enum_name,
            "member": self.member,
            "literal": self.literal,
        }

    def _value_source(self, source: str) -> str:
        from runbook_lib.rollback.actions import pyedit

        # The enum reads best, but only works when the module imports it.
        if pyedit.imports_name(source, self.enum_name, filename=self.module):
            return f"{self.enum_name}.{self.member}"
        return repr(self.literal)

    def plan(self, root: Path) -> Step:
        """Plan the keyword argument at the module's single call site."""
        from runbook_lib.rollback.actions import pyedit

        source = _read_text(root, self.module, "call-site module")
        value = self._value_source(source)
        edit = pyedit.keyword_edit(source, self.function, self.keyword, value, filename=self.module)
        summary = f"{self.function}(..., {self.keyword}={value}) at line {edit.line}"
        title = f"call {self.function} with {self.keyword}={value} in {self.module}"
        new = pyedit.apply_edit(source, edit)
        return _step(self, title, root, relative=self.module, new=new, summary=summary)

    def verify_state(self, step: Step, ctx: Context) -> list[str]:
        """The parsed call passes the legacy selection."""
        import ast

        from runbook_lib.rollback.actions import pyedit

        source = _read_text(ctx.root, self.module, "call-site module")
        expected = self._value_source(source)
        for call in pyedit.find_calls(source, self.function, filename=self.module):
            for keyword in call.keywords:
                if keyword.arg == self.keyword and ast.unparse(keyword.value) in {
                    expected,
                    repr(self.literal),
                    f"{self.enum_name}.{self.member}",
                }:
                    return []
        return [f"{self.module}: {self.function}() does not pass {self.keyword}={expected}"]
