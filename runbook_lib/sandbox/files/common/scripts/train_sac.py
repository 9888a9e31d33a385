"""Train the SAC trading agent from its config and save it as an SB3 zip.

    python scripts/train_sac.py --config configs/sac_config.json [--output models/sac.zip]

Without ``--output`` the model goes to the config's ``model_path``. Prints one
JSON line: the model path, the observation shape and the training time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from src.rl.sac.config import DEFAULT_CONFIG, ConfigError, load_config


def main() -> int:
    """Train, save, and report; exit 2 on a bad config."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument(
        "--output", type=Path, default=None, help="where to save (default: model_path)"
    )
    args = parser.parse_args()
    try:
        config = load_config(args.config)
    except ConfigError as err:
        print(f"train_sac: {err}", file=sys.stderr)
        return 2
    from src.rl.sac.sac_agent import train  # imports torch: only once the config is known good

    output: Path = args.output or Path(config["model_path"])
    output.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    model = train(config)
    partial = output.with_name(f".{output.name}.partial.zip")  # SB3 insists on the .zip suffix
    model.save(str(partial))
    partial.replace(output)
    seconds = time.perf_counter() - started
    shape = model.observation_space.shape
    print(
        json.dumps({"model": str(output), "observation_shape": shape, "seconds": round(seconds, 2)})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
