"""Build the SAC trading agent's untracked artifacts in a fresh sandbox workspace.

* ``models/sac_v1.zip`` and ``models/sac_v2.zip``: trained by each release's own
  ``scripts/train_sac.py`` on a ``git archive`` export of its tag, the two in
  parallel (one torch thread each), and cached by a hash of the training code,
  the config and the library versions, so a second sandbox reuses them.
* ``wheelhouse/``: the ``trade-agent-sac`` wheels of both releases, built by each
  release's ``scripts/build_sac_wheel.py`` (reproducible bytes).
* ``.site/``: the release's wheel installed by pip, offline, from the wheelhouse;
  pip's result is cached by the wheel's hash and copied on a warm run.
* ``backups/<timestamp>/``: the stable config and model with ``SHA256SUMS``,
  written by the stable release's ``scripts/backup_sac.py``, as the operator
  took it before deploying v2.0.

The workspace's code always runs in child processes of ``sys.executable``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from filelock import FileLock, Timeout

from runbook_lib.base.errors import WorkspaceError
from runbook_lib.base.fsutil import iter_files, sha256_file
from runbook_lib.base.progress import NO_PROGRESS, ItemProgress
from runbook_lib.sandbox.tags import RELEASE_TAG, STABLE_TAG

PACKAGE = "trade-agent-sac"
PACKAGE_DIR = "packages/trade-agent-sac"
CONFIG = "configs/sac_config.json"
BACKUP_TIMESTAMP = "20260301T090000Z"  # the day before the v2.0 release
_TRAINING_INPUTS = ("src/rl/sac", "scripts/train_sac.py", CONFIG)
_LIBRARIES = ("torch", "stable-baselines3", "gymnasium", "numpy")
_TRAIN_TIMEOUT_S = 900.0
_LOCK_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class Release:
    """One release's exported tree and the model its config names."""

    tag: str
    tree: Path
    model: str
    version: str


def export_tree(workspace: Path, tag: str, dest: Path) -> Path:
    """Extract the tracked files of ``tag`` into ``dest`` (``git archive``) and return it."""
    proc = subprocess.run(
        ["git", "-C", str(workspace), "archive", "--format=tar", tag],
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        reason = proc.stderr.decode(errors="replace").strip()
        raise WorkspaceError(f"git archive {tag} failed in {workspace}: {reason}")
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as archive:
        archive.extractall(dest, filter="data")
    return dest


def load_release(workspace: Path, tag: str, scratch: Path) -> Release:
    """Export ``tag`` and read its model path and package version."""
    import tomllib

    tree = export_tree(workspace, tag, scratch / tag)
    config = json.loads((tree / CONFIG).read_text(encoding="utf-8"))
    pyproject = tomllib.loads((tree / PACKAGE_DIR / "pyproject.toml").read_text(encoding="utf-8"))
    return Release(tag, tree, str(config["model_path"]), str(pyproject["project"]["version"]))


def _hash_inputs(tree: Path, inputs: tuple[str, ...]) -> hashlib._Hash:
    digest = hashlib.sha256()
    for name in inputs:
        path = tree / name
        files = iter_files(path, skip_dirs=frozenset({"__pycache__"})) if path.is_dir() else [path]
        for file in files:
            digest.update(f"{file.relative_to(tree).as_posix()}\0{sha256_file(file)}\n".encode())
    return digest


def training_key(release: Release) -> str:
    """Hash of everything a trained model depends on: code, config, interpreter, libraries."""
    digest = _hash_inputs(release.tree, _TRAINING_INPUTS)
    digest.update(f"python {sys.version_info[:3]}\n".encode())
    for library in _LIBRARIES:
        digest.update(f"{library} {metadata.version(library)}\n".encode())
    return digest.hexdigest()[:32]


def _child_env(tree: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(tree),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": "1",  # two trainings share two cores
        "MKL_NUM_THREADS": "1",
    }


def _cached_model(entry: Path) -> Path | None:
    model, meta = entry / "model.zip", entry / "meta.json"
    if not (model.is_file() and meta.is_file()):
        return None
    recorded = json.loads(meta.read_text(encoding="utf-8")).get("sha256")
    return model if recorded == sha256_file(model) else None


def _store(entry: Path, model: Path, release: Release, seconds: float) -> Path:
    """Move a trained model into the cache under ``entry`` (atomically) and return it."""
    staging = Path(tempfile.mkdtemp(prefix=".new-", dir=entry.parent))
    shutil.move(model, staging / "model.zip")
    meta = {
        "sha256": sha256_file(staging / "model.zip"),
        "tag": release.tag,
        "model": release.model,
        "train_seconds": round(seconds, 2),
    }
    (staging / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    if entry.exists():
        shutil.rmtree(entry)  # an entry that failed its hash check
    staging.rename(entry)
    return entry / "model.zip"


@dataclass
class _Training:
    release: Release
    process: subprocess.Popen[bytes]
    output: Path
    log: Path
    started: float


def _start_training(release: Release, scratch: Path) -> _Training:
    output = scratch / f"{release.tag}-model.zip"
    log = scratch / f"{release.tag}-train.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "scripts/train_sac.py", "--config", CONFIG, "--output", str(output)],
            cwd=release.tree,
            env=_child_env(release.tree),
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    return _Training(release, process, output, log, time.perf_counter())


def _finish_training(job: _Training, entry: Path) -> Path:
    try:
        code = job.process.wait(timeout=_TRAIN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        job.process.kill()
        job.process.wait()
        limit = f"{_TRAIN_TIMEOUT_S:.0f} s"
        raise WorkspaceError(f"training {job.release.model} took over {limit}") from None
    if code != 0 or not job.output.is_file():
        tail = "\n".join(job.log.read_text(errors="replace").strip().splitlines()[-8:])
        what = f"training {job.release.model} ({job.release.tag})"
        raise WorkspaceError(f"{what} failed (exit {code}):\n{tail}")
    return _store(entry, job.output, job.release, time.perf_counter() - job.started)


@dataclass
class ModelBuild:
    """The models of a sandbox: those found in the cache and those being trained."""

    releases: list[Release]
    lock: FileLock
    found: dict[str, Path]
    jobs: list[tuple[_Training, Path]]
    started: float

    def finish(self, progress: ItemProgress = NO_PROGRESS) -> tuple[dict[str, Path], str]:
        """Wait for the trainings, cache their models; return every model and a summary.

        ``progress`` is told as each training is done.
        """
        for job, entry in self.jobs:
            self.found[job.release.model] = _finish_training(job, entry)
            progress.item_done(
                f"{job.release.model} ({job.release.tag})",
                f"trained in {time.perf_counter() - job.started:.1f} s",
                total=len(self.jobs),
            )
        names = ", ".join(Path(release.model).name for release in self.releases)
        if not self.jobs:
            return self.found, f"{names} (cache hit)"
        trained = ", ".join(Path(job.release.model).name for job, _ in self.jobs)
        seconds = time.perf_counter() - self.started
        return self.found, f"{names} (trained {trained} in {seconds:.1f} s)"

    def close(self) -> None:
        """Stop any training still running (after an error) and release the cache lock."""
        for job, _ in self.jobs:
            if job.process.poll() is None:
                job.process.kill()
                job.process.wait()
        self.lock.release()


def start_models(releases: list[Release], cache: Path, scratch: Path) -> ModelBuild:
    """Take the models found in the cache and start training the others, in parallel.

    The cache's lock is held until :meth:`ModelBuild.close`, so two sandboxes
    built at once train each model only once.
    """
    models_dir = cache / "sac" / "models"
    models_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(models_dir / ".lock", timeout=_LOCK_TIMEOUT_S)
    try:
        lock.acquire()
    except Timeout:
        raise WorkspaceError(f"another sandbox build has held {lock.lock_file} too long") from None
    build = ModelBuild(releases, lock, {}, [], time.perf_counter())
    try:
        for release in releases:
            entry = models_dir / training_key(release)
            cached = _cached_model(entry)
            if cached is not None:
                build.found[release.model] = cached
            else:
                build.jobs.append((_start_training(release, scratch), entry))
    except BaseException:
        build.close()
        raise
    return build


def _run(command: list[str], cwd: Path, what: str) -> str:
    env = _child_env(cwd)
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        reason = proc.stderr.strip()[-2000:]
        raise WorkspaceError(f"{what} failed (exit {proc.returncode}): {reason}")
    return proc.stdout.strip()


def build_wheel(release: Release, wheelhouse: Path) -> Path:
    """Build ``release``'s trade-agent-sac wheel with its own build script."""
    command = [sys.executable, "scripts/build_sac_wheel.py", PACKAGE_DIR, "--out", str(wheelhouse)]
    return Path(_run(command, release.tree, f"building the {PACKAGE} {release.version} wheel"))


def install_site(workspace: Path, wheel: Path, version: str, cache: Path) -> bool:
    """Install ``PACKAGE==version`` into ``workspace/.site`` with pip, offline; True on a cache hit.

    pip's output depends only on the wheel, so it is cached by the wheel's hash
    and copied on later runs (pip itself takes a second or more to start).
    """
    # pip runs in the workspace: every path it gets must be absolute.
    sites, wheel = cache.resolve() / "sac" / "site", wheel.resolve()
    sites.mkdir(parents=True, exist_ok=True)
    entry = sites / f"{sha256_file(wheel)[:32]}-py{sys.version_info[0]}{sys.version_info[1]}"
    hit = (entry / "site").is_dir()
    if not hit:
        staging = Path(tempfile.mkdtemp(prefix=".new-", dir=sites))
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--find-links",
            str(wheel.parent),
            "--target",
            str(staging / "site"),
            "--no-compile",
            "--disable-pip-version-check",
            f"{PACKAGE}=={version}",
        ]
        try:
            _run(command, workspace, f"pip install {PACKAGE}=={version}")
            if not (staging / "site").is_dir():
                raise WorkspaceError(f"pip install {PACKAGE}=={version} installed nothing")
            if (entry / "site").is_dir():  # another build got there first: same wheel, same result
                shutil.rmtree(staging)
            else:
                if entry.exists():
                    shutil.rmtree(entry)  # an entry left incomplete by an older build
                staging.rename(entry)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    shutil.copytree(entry / "site", workspace / ".site")
    return hit


def make_backup(stable: Release, model: Path, workspace: Path) -> Path:
    """Back up the stable config and model into ``workspace/backups`` with its own script."""
    target = stable.tree / stable.model
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(model, target)
    command = [
        sys.executable,
        "scripts/backup_sac.py",
        "--config",
        CONFIG,
        "--dest",
        str(workspace / "backups"),
        "--timestamp",
        BACKUP_TIMESTAMP,
    ]
    return Path(_run(command, stable.tree, "backing up the stable SAC config and model"))


def build_sac_artifacts(
    workspace: Path, cache: Path, progress: ItemProgress = NO_PROGRESS
) -> dict[str, str]:
    """Build the models, wheels, site directory and backup; return what was made.

    ``progress`` is told as each model training (a first run only) is done.
    """
    workspace, cache = workspace.resolve(), cache.resolve()  # child processes run elsewhere
    with tempfile.TemporaryDirectory(prefix="runbook-sac-") as tmp:
        scratch = Path(tmp)
        stable = load_release(workspace, STABLE_TAG, scratch)
        release = load_release(workspace, RELEASE_TAG, scratch)
        models = start_models([stable, release], cache, scratch)
        try:
            wheels = [build_wheel(r, workspace / "wheelhouse") for r in (stable, release)]
            site_hit = install_site(workspace, wheels[1], release.version, cache)
            trained, summary = models.finish(progress)
        finally:
            models.close()
        (workspace / "models").mkdir(exist_ok=True)
        for relative, path in trained.items():
            shutil.copy2(path, workspace / relative)
        backup = make_backup(stable, trained[stable.model], workspace)
    site_note = " (cache hit)" if site_hit else ""
    return {
        "models": summary,
        "backup": f"{backup.relative_to(workspace)} ({CONFIG}, {stable.model}, SHA256SUMS)",
        "package": f"{PACKAGE} {release.version} in .site{site_note}; "
        f"wheels {stable.version}, {release.version} in wheelhouse",
    }
