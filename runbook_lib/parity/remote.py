"""The parity run's envs, built in env workers of the target's interpreter.

:func:`remote_envs` starts one worker (``spec.python``, runbook's own
interpreter when unset) and builds the named env types in it; each comes
back as a :class:`WorkerEnv` with the Gymnasium calls lockstep, recording
and replay make (``reset``, ``step``, ``action_space.n``, ``action_masks``).
Runbook's process, and the process pool's workers, never import the target.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from runbook_lib.base.errors import WorkspaceError
from runbook_lib.target.worker.client import (
    EnvWorker,
    RemoteEnv,
    TargetCallError,
    build_env,
    decode,
)
from runbook_lib.target.worker.stash import WorkerStash, borrowed


class ParitySpec(Protocol):
    """What this module reads of :class:`~runbook_lib.parity.lockstep.ParitySpec`."""

    @property
    def root(self) -> str: ...  # noqa: D102
    @property
    def factory(self) -> str: ...  # noqa: D102
    @property
    def legacy(self) -> str: ...  # noqa: D102
    @property
    def candidate(self) -> str: ...  # noqa: D102
    @property
    def python(self) -> str | None: ...  # noqa: D102
    @property
    def config(self) -> dict[str, Any] | None: ...  # noqa: D102
    def side(self, role: str) -> tuple[str | None, str]: ...  # noqa: D102
    @property
    def seeds(self) -> tuple[int, ...]: ...  # noqa: D102
    @property
    def factory_config(self) -> dict[str, Any] | None: ...  # noqa: D102
    @property
    def factory_kwargs(self) -> dict[str, Any]: ...  # noqa: D102


class SpaceView:
    """What the runner reads of a space described by the worker."""

    def __init__(self, described: dict[str, Any]) -> None:
        """Keep the worker's description (``type``, ``n``, ``shape``...)."""
        self.described = described
        self.type = str(described.get("type"))

    @property
    def n(self) -> int:
        """The number of actions of a Discrete space."""
        if "n" not in self.described:
            raise WorkspaceError(
                f"the action space is {self.type}, not Discrete",
                hint="the random policy draws from a Discrete space",
            )
        return int(decode(self.described["n"]))


class WorkerEnv:
    """A :class:`RemoteEnv` behind the calls a Gymnasium env answers."""

    def __init__(self, remote: RemoteEnv) -> None:
        """Wrap ``remote``; the mask of the last reply is kept for :meth:`action_masks`."""
        self.remote = remote
        self.action_space = SpaceView(remote.built["action_space"])
        self._mask: Any = None

    def reset(self, *, seed: int | None = None) -> tuple[Any, dict[str, Any]]:
        """``(obs, info)``."""
        obs, info, self._mask = self.remote.reset(seed)
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """``(obs, reward, terminated, truncated, info)``."""
        obs, reward, terminated, truncated, info, self._mask = self.remote.step(action)
        return obs, reward, terminated, truncated, info

    def action_masks(self) -> Any:
        """The env's own ``action_masks()`` after the last call (None without one)."""
        return self._mask


def interpreter_of(spec: ParitySpec) -> str:
    """The interpreter that runs ``spec``'s target code."""
    return spec.python or sys.executable


@contextlib.contextmanager
def remote_envs(
    spec: ParitySpec,
    env_types: Sequence[str],
    logger: str | None = None,
    *,
    stash: WorkerStash | None = None,
    prefix: str = "",
) -> Iterator[list[WorkerEnv]]:
    """An env per type in ``env_types`` (roles legacy, candidate), stopped on exit.

    One worker per distinct side (interpreter and tree): one when they share it.
    With ``stash`` the workers are borrowed from it and go back there on exit
    (their envs stay in them, under the handles ``prefix + role``, for no
    later step uses those handles); without one they are stopped.
    """
    with contextlib.ExitStack() as stack:
        workers: dict[tuple[str, str], EnvWorker] = {}
        envs = []
        for role, env_type in zip(("legacy", "candidate"), env_types, strict=False):
            python, root = spec.side(role)
            key = (python or sys.executable, root)
            if key not in workers:
                workers[key] = stack.enter_context(borrowed(stash, key[0], Path(root)))
            built = _build(workers[key], spec, env_type, role, logger, handle=prefix + role)
            envs.append(WorkerEnv(built))
        yield envs


def build_side(
    worker: EnvWorker, spec: ParitySpec, env_type: str, handle: str, logger: str | None = None
) -> RemoteEnv:
    """Build ``env_type`` in ``worker`` through the factory, as ``spec`` configures it.

    The config object comes from ``[env] config`` (the worker runs its loader
    or builder) or, without one, from ``spec.config`` passed as it is; every
    call gets ``[env] factory_kwargs``. The target's own error is a
    :class:`TargetCallError`.
    """
    config = spec.factory_config
    if config is None and spec.config is not None:
        config = {"value": spec.config}
    return build_env(
        worker,
        spec.factory,
        env_type,
        handle=handle,
        config=config,
        kwargs=spec.factory_kwargs,
        logger=logger,
    )


def _build(
    worker: EnvWorker,
    spec: ParitySpec,
    env_type: str,
    role: str,
    logger: str | None,
    *,
    handle: str | None = None,
) -> RemoteEnv:
    try:
        return build_side(worker, spec, env_type, handle or role, logger)
    except TargetCallError as exc:  # the target's own error, reported in one line
        raise WorkspaceError(
            f"building the {role} env (env_type={env_type!r}) through {spec.factory} "
            f"failed: {exc.message.split(' raised ', 1)[-1]}",
            hint="fix the target's configuration or code, then run parity again",
        ) from None


def describe(env: WorkerEnv, env_type: str) -> dict[str, Any]:
    """The evidence's entry for one env: class (unwrapped), wrappers, spaces, log."""
    built = env.remote.built
    identity = built["identity"]
    return {
        "env_type": env_type,
        "class": identity["unwrapped"].rsplit(".", 1)[-1],
        "unwrapped": identity["unwrapped"],
        "wrappers": identity["wrappers"],
        "log": built.get("log", []),
        "observation_space": built["observation_space"],
        "action_space": built["action_space"],
    }


def probe_envs(
    spec: ParitySpec, logger: str | None, stash: WorkerStash | None = None
) -> dict[str, Any]:
    """Build both envs once in a worker, with the factory's log lines, before any episode.

    Legacy and candidate are told apart by the unwrapped class, then by a
    fixed-seed trajectory fingerprint (built afresh, so no reset is spent):
    a wrapper both share is never taken for one env. With ``stash`` the
    worker is borrowed from it and left there for the episodes; the envs
    built here stay under handles of their own (``probe-legacy``...), so
    the episodes build theirs afresh.

    Raises:
        WorkspaceError: the factory fails, or builds the same env for both
            env types (a global rollback such as ``_FORCE_LEGACY_ENV`` is on).
    """
    types = (spec.legacy, spec.candidate)
    with remote_envs(spec, types, logger, stash=stash, prefix="probe-") as envs:
        found = {
            role: describe(env, env_type)
            for role, env, env_type in zip(("legacy", "candidate"), envs, types, strict=True)
        }
        one_side = spec.side("legacy") == spec.side("candidate")  # else the same env is expected
        if one_side and found["legacy"]["unwrapped"] == found["candidate"]["unwrapped"]:
            same = _same_fingerprint(envs[0].remote.worker, spec)
            if same:
                raise WorkspaceError(
                    f"the factory builds {found['legacy']['class']} for both env types "
                    f"({spec.legacy!r} and {spec.candidate!r}); parity would compare it with "
                    "itself",
                    hint="a global rollback (e.g. _FORCE_LEGACY_ENV = True) is in effect; undo "
                    "it first",
                )
    return found


def _same_fingerprint(worker: EnvWorker, spec: ParitySpec) -> bool:
    """Whether fresh legacy and candidate envs walk the same fixed-seed trajectory."""
    prints = []
    for env_type in (spec.legacy, spec.candidate):
        remote = _build(worker, spec, env_type, f"fingerprint-{env_type}", None)
        try:
            prints.append(remote.fingerprint(seed=0))
        except TargetCallError:
            return True  # no trajectory to tell them apart by: the same class decides
    return prints[0] == prints[1]


def profile_env(
    spec: ParitySpec, role: str, env_type: str, episodes: int = 2, top: int = 8
) -> list[dict[str, Any]]:
    """CProfile over ``episodes`` seeded random episodes of one side's env, in its worker.

    Only the env's own ``reset`` and ``step`` are timed; the rows are the top
    functions by own time (``function``, ``own_s``, ``share``, ``calls``).
    """
    python, root = spec.side(role)
    with EnvWorker(python or sys.executable, Path(root)) as worker:
        env = _build(worker, spec, env_type, role, None)
        found = worker.call(
            "profile", handle=env.handle, seeds=list(spec.seeds[:episodes]), top=top
        )
    return [dict(row) for row in found["rows"]]
