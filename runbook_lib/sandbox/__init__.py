"""The sandbox reference target: a small, real RL project to roll back.

:func:`create_workspace` materializes it into a git repository with a stable
``v1.0`` tag and a ``v2.0`` release at HEAD. The runbook core never imports this
package; the CLI does, for ``runbook sandbox create`` and ``runbook drill``.
"""

from runbook_lib.sandbox.materialize import WorkspaceInfo, create_workspace

__all__ = ["WorkspaceInfo", "create_workspace"]
