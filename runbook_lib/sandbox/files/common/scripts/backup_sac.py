"""Back up the SAC agent's config and model with a ``SHA256SUMS`` manifest.

    python scripts/backup_sac.py [--config configs/sac_config.json] [--dest backups]
                                 [--timestamp 20260301T090000Z]

Copies ``configs/sac_config.json`` and the model it names (both relative to the
repository root) into
``DEST/<timestamp>/`` under the same relative paths, then writes
``SHA256SUMS`` there, so ``cd DEST/<timestamp> && sha256sum -c SHA256SUMS``
verifies the backup before anything is restored from it. The backup is built
in a temporary directory and renamed into place: it is complete or absent.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from anywhere

from src.rl.sac.config import DEFAULT_CONFIG, ConfigError, load_config  # noqa: E402
from src.rl.sac.integrity import MANIFEST, manifest_text  # noqa: E402

TIMESTAMP = re.compile(r"^\d{8}T\d{6}Z$")


def backup(root: Path, config_rel: Path, dest: Path, timestamp: str) -> Path:
    """Back up ``root``'s config and model into ``dest/timestamp`` and return that directory."""
    config = load_config(root / config_rel)
    files = [config_rel.as_posix(), str(config["model_path"])]
    target = dest / timestamp
    if target.exists():
        raise FileExistsError(f"{target} already exists; backups are never overwritten")
    dest.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{timestamp}.", dir=dest))
    try:
        for rel in files:
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / rel, staging / rel)
        (staging / MANIFEST).write_text(manifest_text(staging, files), encoding="utf-8")
        staging.chmod(0o755)  # mkdtemp makes it private
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def main() -> int:
    """Back up this repository's config and model and print the backup directory."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--dest", type=Path, default=Path("backups"))
    parser.add_argument("--timestamp", default=datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"))
    args = parser.parse_args()
    if not TIMESTAMP.match(args.timestamp):
        print(
            f"backup_sac: timestamp {args.timestamp!r} is not like 20260301T090000Z",
            file=sys.stderr,
        )
        return 2
    if args.config.is_absolute():
        print("backup_sac: give --config relative to the repository root", file=sys.stderr)
        return 2
    try:
        print(backup(ROOT, args.config, args.dest, args.timestamp))
    except (ConfigError, FileExistsError, FileNotFoundError) as err:
        print(f"backup_sac: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
