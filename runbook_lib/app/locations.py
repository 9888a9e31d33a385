"""Where a command works: the target's root and the evidence archive.

One resolution for the CLI and the notebooks. The target is, in this order:
``--target`` after the subcommand, ``--target`` before it, ``$RUNBOOK_TARGET``,
then the nearest ``runbook.toml`` from the current directory upward. The
archive is ``--archive`` (after, then before the subcommand),
``$RUNBOOK_ARCHIVE``, the manifest's ``[archive] dir`` (relative to the
target's root), and else one fixed directory per target under the user's
data directory: ``${XDG_DATA_HOME:-~/.local/share}/runbook/archives/<name>-<hash>``.
The default never depends on the current directory, and it lies outside the
target's tree, so that the target's ``git status`` and the hash that guards
plans against a changed target never see the evidence.
"""

import os
from pathlib import Path
from typing import NamedTuple

from runbook_lib.base.errors import InvalidInputError

# The manifest's parser is imported where a target is resolved, not here: 'runbook --help'
# and the options' help texts must not pay for it.
MANIFEST_NAME = "runbook.toml"

TARGET_ENV = "RUNBOOK_TARGET"
ARCHIVE_ENV = "RUNBOOK_ARCHIVE"


def data_home() -> Path:
    """The user's data directory (``$XDG_DATA_HOME`` or ``~/.local/share``)."""
    configured = os.environ.get("XDG_DATA_HOME", "")
    return Path(configured) if configured else Path.home() / ".local" / "share"


def checked_target(value: Path, *, what: str = "--target") -> Path:
    """``value`` resolved, when it is a target's root (holds runbook.toml)."""
    if not (value / MANIFEST_NAME).is_file():
        raise InvalidInputError(
            f"{what} {value} holds no {MANIFEST_NAME}",
            hint="pass the target's root directory, the one with runbook.toml",
        )
    return value.resolve()


def default_archive(target: Path) -> Path:
    """The target's archive when none is given: ``[archive] dir``, else its data directory."""
    import hashlib  # not at the top: 'runbook --help' imports this module

    from runbook_lib.target.manifest import load_manifest

    manifest = load_manifest(target)
    if manifest.archive_dir is not None:
        return (manifest.root / manifest.archive_dir).resolve()
    digest = hashlib.sha256(str(manifest.root).encode()).hexdigest()[:12]
    return data_home() / "runbook" / "archives" / f"{manifest.name}-{digest}"


class Locations(NamedTuple):
    """What was given before the subcommand (or in a notebook's parameters)."""

    target: Path | None = None
    archive: Path | None = None

    def resolve_target(self, given: Path | None = None) -> Path:
        """The target's root; see the module docstring for the order."""
        from runbook_lib.target.manifest import find_manifest

        if given is not None:
            return checked_target(given)
        if self.target is not None:
            return checked_target(self.target)
        from_env = os.environ.get(TARGET_ENV, "")
        if from_env:
            return checked_target(Path(from_env), what=f"${TARGET_ENV}")
        return find_manifest(Path.cwd()).parent

    def find_target(self, given: Path | None = None) -> Path | None:
        """Like :meth:`resolve_target`, but ``None`` when no target is around."""
        if given is None and self.target is None and not os.environ.get(TARGET_ENV):
            from runbook_lib.target.manifest import find_manifest

            try:
                return find_manifest(Path.cwd()).parent
            except InvalidInputError:
                return None
        return self.resolve_target(given)

    def resolve_archive(self, given: Path | None = None, target: Path | None = None) -> Path:
        """The archive directory; a default one needs a target (``target`` or found)."""
        for explicit in (given, self.archive):
            if explicit is not None:
                return explicit.resolve()
        from_env = os.environ.get(ARCHIVE_ENV, "")
        if from_env:
            return Path(from_env).resolve()
        try:
            root = target if target is not None else self.resolve_target()
        except InvalidInputError as err:
            raise InvalidInputError(
                f"no archive given and no target to take its default from ({err.message})",
                hint=f"pass --archive DIR (or set ${ARCHIVE_ENV}), or --target DIR",
            ) from None
        return default_archive(root)
