"""Check a SAC config against this release's schema.

    python scripts/validate_config.py configs/sac_config.json

Prints ``OK`` and exits 0 when the config is valid; otherwise prints one line
per problem, each naming the key, and exits 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from src.rl.sac.config import DEFAULT_CONFIG, ConfigError, load_config


def main() -> int:
    """Validate the config named on the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("config", type=Path, nargs="?", default=DEFAULT_CONFIG)
    args = parser.parse_args()
    try:
        load_config(args.config)
    except ConfigError as err:
        for problem in err.problems:
            print(f"{err.source}: {problem}", file=sys.stderr)
        return 1
    print(f"{args.config}: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
