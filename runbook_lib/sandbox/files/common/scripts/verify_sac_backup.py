"""Verify a SAC backup directory against its ``SHA256SUMS`` before restoring it.

    python scripts/verify_sac_backup.py backups/20260301T090000Z

Exits 0 and prints ``OK`` when every listed file is present and intact and no
unlisted file is there; otherwise prints each problem and exits 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from src.rl.sac.integrity import verify_manifest


def main() -> int:
    """Verify the backup named on the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("backup", type=Path)
    args = parser.parse_args()
    if not args.backup.is_dir():
        print(f"verify_sac_backup: {args.backup} is not a directory", file=sys.stderr)
        return 2
    report = verify_manifest(args.backup)
    for problem in report.problems():
        print(f"{args.backup}/{problem}", file=sys.stderr)
    if report.passed:
        print(f"{args.backup}: OK ({len(report.ok)} files)")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
