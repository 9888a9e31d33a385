"""The env worker: runs a target's env code in the target's own interpreter.

Runbook starts this file by path (``TARGET_PYTHON envworker.py ROOT``) and talks
to it over stdin/stdout, one JSON object per line. It imports nothing of
runbook: only the standard library and the target's own gymnasium and numpy,
so it runs on Python >= 3.9 with gymnasium >= 0.26 (and SB3 >= 2.0 where a
call needs it). Keep it that way: no ``match``, no ``zip(strict=...)``, no
``X | Y`` outside annotations.

Protocol (version :data:`PROTOCOL`): a request is ``{"v", "id", "op", "args"}``;
the reply is ``{"v", "id", "ok": true, "result"}`` or ``{"v", "id", "ok":
false, "error": {"type", "message"}}``. Arrays travel leaf by leaf: a leaf is
``{"path", "dtype", "shape", "b64"}`` (the raw C-order bytes), and a tree (a
Dict or Tuple observation) is ``{"leaves": [...], "kind": ...}``.
Anything the target prints goes to stderr: stdout carries the protocol only.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib
import json
import logging
import os
import sys
import traceback
from typing import Any, Callable, Dict, Iterator, List, Tuple

if __package__:  # imported as part of runbook (the client reads PROTOCOL and the codecs)
    from . import envepisodes, envprobes
else:  # started by path: this file's directory is on sys.path, runbook is not imported
    import envepisodes  # type: ignore[no-redef,import-not-found]
    import envprobes  # type: ignore[no-redef,import-not-found]

PROTOCOL = 2

Path_ = List[Any]  # a leaf's path: dict keys (str) and tuple indices (int)


def _np() -> Any:
    import numpy

    return numpy


def encode_tree(value: Any) -> Dict[str, Any]:
    """A nested dict/tuple of arrays or scalars as ``{"kind", "leaves"}``."""
    leaves: List[Dict[str, Any]] = []
    kind = _walk(value, [], leaves)
    return {"kind": kind, "leaves": leaves}


def _walk(value: Any, path: Path_, leaves: List[Dict[str, Any]]) -> Any:
    if isinstance(value, dict):
        return {"dict": [[key, _walk(value[key], [*path, key], leaves)] for key in value]}
    if isinstance(value, (tuple, list)):
        return {"tuple": [_walk(item, [*path, i], leaves) for i, item in enumerate(value)]}
    array = _np().asarray(value)  # tobytes() is C order; ascontiguousarray would make 0-d 1-d
    leaves.append(
        {
            "path": path,
            "dtype": array.dtype.str,
            "shape": list(array.shape),
            "b64": base64.b64encode(array.tobytes()).decode("ascii"),
        }
    )
    return "leaf"


def decode_tree(tree: Dict[str, Any]) -> Any:
    """The inverse of :func:`encode_tree` (leaves become numpy arrays)."""
    leaves = iter(tree["leaves"])
    return _build(tree["kind"], leaves)


def _build(kind: Any, leaves: Any) -> Any:
    if kind == "leaf":
        leaf = next(leaves)
        raw = base64.b64decode(leaf["b64"])
        dtype = _np().dtype(leaf["dtype"])
        return _np().frombuffer(raw, dtype=dtype).reshape(leaf["shape"]).copy()
    if "dict" in kind:
        return {key: _build(sub, leaves) for key, sub in kind["dict"]}
    return tuple(_build(sub, leaves) for sub in kind["tuple"])


def jsonable(value: Any) -> Any:
    """``info`` made JSON-ready: arrays as encoded trees, numpy scalars as numbers."""
    np = _np()
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return {"__tree__": encode_tree(value)}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return {"__repr__": repr(value)[:200]}


def describe_space(space: Any) -> Dict[str, Any]:
    """A space as data: type, shape, dtype, bounds; Dict and Tuple recursively."""
    name = type(space).__name__
    if name == "Dict":
        return {"type": name, "spaces": [[k, describe_space(s)] for k, s in space.spaces.items()]}
    if name == "Tuple":
        return {"type": name, "spaces": [describe_space(s) for s in space.spaces]}
    found: Dict[str, Any] = {
        "type": name,
        "shape": list(space.shape or ()),
        "dtype": None if space.dtype is None else _np().dtype(space.dtype).str,
    }
    for attribute in ("low", "high", "nvec", "n", "start"):
        value = getattr(space, attribute, None)
        if value is not None:
            found[attribute] = encode_tree(value)
    return found


def _action_for(space: Any, value: Any) -> Any:
    name = type(space).__name__
    if name == "Dict":
        return {key: _action_for(space.spaces[key], value[key]) for key in space.spaces}
    if name == "Tuple":
        return tuple(_action_for(s, value[i]) for i, s in enumerate(space.spaces))
    if name == "Discrete":
        return int(_np().asarray(value).item())
    return _np().asarray(value, dtype=space.dtype)


def identity(env: Any) -> Dict[str, Any]:
    """The unwrapped class and the wrapper stack, outermost first."""
    wrappers: List[str] = []
    layer = env
    while hasattr(layer, "env") and layer is not getattr(layer, "unwrapped", layer):
        wrappers.append(_qualname(type(layer)))
        layer = layer.env
    return {"unwrapped": _qualname(type(getattr(env, "unwrapped", env))), "wrappers": wrappers}


def _qualname(cls: type) -> str:
    return cls.__module__ + "." + cls.__qualname__


def load_entry_point(text: str) -> Any:
    """``package.module:attribute.path`` imported from the target's root."""
    module_name, _, attribute = text.partition(":")
    found: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        found = getattr(found, part)
    return found


def _installed_version(distribution: str) -> Any:
    """The installed version of ``distribution``, or None; read from its metadata.

    Importing stable_baselines3 to read ``__version__`` would import torch (seconds):
    the metadata says the same without running the package.
    """
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except Exception:  # not installed (PackageNotFoundError) or unreadable metadata
        return None


class Worker:
    """The envs a session has built, by handle, and the calls on them."""

    def __init__(self) -> None:
        """No env yet."""
        self.envs: Dict[str, Any] = {}

    def hello(self, args: Dict[str, Any]) -> Dict[str, Any]:
        """Versions of the protocol, Python and the target's libraries."""
        import gymnasium

        np = _np()
        return {
            "protocol": PROTOCOL,
            "python": sys.version.split()[0],
            "executable": sys.executable,
            "gymnasium": gymnasium.__version__,
            "numpy": np.__version__,
            "stable_baselines3": _installed_version("stable_baselines3"),
        }

    def build(self, args: Dict[str, Any]) -> Dict[str, Any]:
        """Build an env through the factory; its handle, identity and spaces."""
        factory = load_entry_point(args["factory"])
        config = self._config(args.get("config"))
        kwargs = dict(args.get("kwargs") or {})
        if args.get("env_type") is not None:
            kwargs["env_type"] = args["env_type"]
        with _captured(args.get("logger")) as lines:
            env = factory(config, **kwargs)
        handle = args["handle"]
        old = self.envs.pop(handle, None)
        if old is not None:
            _close(old)
        self.envs[handle] = env
        return {
            "handle": handle,
            "identity": identity(env),
            "log": lines,
            "observation_space": describe_space(env.observation_space),
            "action_space": describe_space(env.action_space),
        }

    def _config(self, spec: Any) -> Any:
        if spec is None:
            return None
        if spec.get("loader"):
            return load_entry_point(spec["loader"])(spec["file"])
        if spec.get("builder"):
            return load_entry_point(spec["builder"])()
        return spec.get("value")

    def reset(self, args: Dict[str, Any]) -> Dict[str, Any]:
        """``env.reset(seed=...)``: the observation tree and the info."""
        env = self.envs[args["handle"]]
        obs, info = env.reset(seed=args.get("seed"))
        return {"obs": encode_tree(obs), "info": jsonable(info), "mask": _mask(env, info)}

    def step(self, args: Dict[str, Any]) -> Dict[str, Any]:
        """``env.step(action)``: the five results (the observation as a tree)."""
        env = self.envs[args["handle"]]
        action = _action_for(env.action_space, decode_tree(args["action"]))
        obs, reward, terminated, truncated, info = env.step(action)
        return {
            "obs": encode_tree(obs),
            "reward": float(reward),
            "terminated": bool(terminated),
            "truncated": bool(truncated),
            "info": jsonable(info),
            "mask": _mask(env, info),
        }

    def digest(self, args: Dict[str, Any]) -> Dict[str, Any]:
        """A fixed-seed trajectory fingerprint: sha256 over every leaf's bytes and reward."""
        env = self.envs[args["handle"]]
        seed = int(args.get("seed", 0))
        env.action_space.seed(seed)
        obs, _ = env.reset(seed=seed)
        hasher = hashlib.sha256()
        _feed(hasher, obs)
        for _ in range(int(args.get("steps", 20))):
            obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            _feed(hasher, obs)
            hasher.update(repr(float(reward)).encode())
            if terminated or truncated:
                break
        return {"sha256": hasher.hexdigest()}

    def close(self, args: Dict[str, Any]) -> Dict[str, Any]:
        """Close and forget one env."""
        env = self.envs.pop(args["handle"], None)
        if env is not None:
            _close(env)
        return {}


@contextlib.contextmanager
def _captured(name: Any) -> Iterator[List[str]]:
    """The messages logged to logger ``name`` inside the block (nothing without a name)."""
    lines: List[str] = []
    if not name:
        yield lines
        return

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger, handler = logging.getLogger(name), Keep(logging.DEBUG)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _feed(hasher: Any, obs: Any) -> None:
    for leaf in encode_tree(obs)["leaves"]:
        hasher.update(json.dumps([leaf["path"], leaf["dtype"], leaf["shape"]]).encode())
        hasher.update(base64.b64decode(leaf["b64"]))


def _mask(env: Any, info: Any) -> Any:
    mask = info.get("action_mask") if isinstance(info, dict) else None
    if mask is None and hasattr(env, "action_masks"):
        mask = env.action_masks()
    return None if mask is None else encode_tree(mask)


def _close(env: Any) -> None:
    try:
        env.close()
    except Exception as exc:  # a failing close must not take the session down
        print(f"envworker: close failed: {exc}", file=sys.stderr)


def serve(root: str, channel: Any) -> None:
    """Answer requests from stdin on ``channel`` until EOF or ``shutdown``."""
    os.chdir(root)
    sys.path.insert(0, root)
    sys.dont_write_bytecode = True  # the worker leaves nothing behind in the target
    worker = Worker()
    ops: Dict[str, Callable[[Dict[str, Any]], Dict[str, Any]]] = {
        "hello": worker.hello,
        "build": worker.build,
        "reset": worker.reset,
        "step": worker.step,
        "digest": worker.digest,
        "close": worker.close,
    }
    tools = sys.modules[__name__]
    ops.update(envepisodes.ops(worker, tools))
    ops.update(envprobes.ops(worker, tools, envepisodes))
    for line in sys.stdin:
        request = json.loads(line)
        reply: Dict[str, Any] = {"v": PROTOCOL, "id": request.get("id")}
        op = request.get("op")
        if op == "shutdown":
            _reply(channel, dict(reply, ok=True, result={}))
            return
        reply.update(_answer(ops, request, op))
        _reply(channel, reply)


def _answer(ops: Dict[str, Any], request: Dict[str, Any], op: Any) -> Dict[str, Any]:
    if request.get("v") != PROTOCOL:
        return _failure(
            "ProtocolError", f"protocol {request.get('v')!r}; this worker speaks {PROTOCOL}"
        )
    if op not in ops:
        return _failure("ProtocolError", f"unknown call {op!r}")
    try:
        return {"ok": True, "result": ops[op](request.get("args") or {})}
    except Exception as exc:  # the target's error travels back as data
        traceback.print_exc(limit=4, file=sys.stderr)
        return _failure(type(exc).__name__, str(exc)[:500])


def _failure(kind: str, message: str) -> Dict[str, Any]:
    return {"ok": False, "error": {"type": kind, "message": message}}


def _reply(channel: Any, reply: Dict[str, Any]) -> None:
    channel.write(json.dumps(reply, separators=(",", ":")) + "\n")
    channel.flush()


def main(argv: Tuple[str, ...]) -> int:
    """Keep the protocol on a private copy of stdout; the target's prints go to stderr."""
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(argv[1] if len(argv) > 1 else ".", channel)
    return 0


def leave(code: int) -> None:
    """Exit with ``code`` once the exit handlers ran, without tearing the interpreter down.

    The client waits for a worker to end after its ``shutdown`` reply: clearing the
    modules of one that imported torch took 1.7-1.9 s; 0.05 s once the ``atexit``
    handlers ran (logging, temporary files, multiprocessing), the files the target
    left open are flushed and the streams too. With a (non-daemon) thread of the
    target's alive, the usual exit waits.
    """
    import atexit
    import threading

    _flush_streams()
    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon for t in threading.enumerate()):
        sys.exit(code)
    atexit._run_exitfuncs()
    _flush_open_files()
    _flush_streams()
    os._exit(code)


def _flush_open_files() -> None:
    """Flush every file the target left open for writing, as the teardown's closing would.

    A target's env may write a log through a file it never closes; the usual exit
    flushes it when the file object is collected, ``os._exit`` would drop what is
    still buffered. Looking the files up costs tens of milliseconds after torch.
    """
    import gc
    import io

    writers = {io.TextIOWrapper, io.BufferedWriter, io.BufferedRandom}
    for found in gc.get_objects():
        if type(found) in writers:
            with contextlib.suppress(Exception):  # closed, or a stream that cannot flush
                found.flush()


def _flush_streams() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if stream is not None:
            with contextlib.suppress(Exception):  # a stream the target closed
                stream.flush()


if __name__ == "__main__":
    leave(main(tuple(sys.argv)))
