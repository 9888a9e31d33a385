"""The sandbox reference target: a small, real RL project to roll back.

:func:`create_workspace` materializes it into a git repository with a stable
``v1.0`` tag and a ``v2.0`` release at HEAD. Two profiles: ``default`` and
``foreign`` (a project with its own venv and a config loader; see
:mod:`.materialize`). The runbook core never imports this
package; the CLI does, for ``runbook sandbox create`` and ``runbook drill``.
"""

from runbook_lib.sandbox.materialize import (
    DEFAULT_PROFILE,
    FOREIGN_PROFILE,
    PROFILES,
    WorkspaceInfo,
    create_workspace,
)

__all__ = ["DEFAULT_PROFILE", "FOREIGN_PROFILE", "PROFILES", "WorkspaceInfo", "create_workspace"]
