"""Evaluate a trained SAC model with the deterministic policy on the config's seeds.

    python scripts/evaluate_sac.py --config configs/sac_config.json [--model models/sac.zip]

Prints the evaluation as JSON: per seed and averaged, total return, Sharpe
ratio, maximum drawdown, turnover and transaction costs. Exits 1 when the
model does not fit the env (observation or action space mismatch).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from src.rl.sac.config import DEFAULT_CONFIG, ConfigError, load_config


def main() -> int:
    """Evaluate and print; exit 2 on a bad config, 1 on a model that does not fit."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--model", type=Path, default=None, help="model zip (default: model_path)")
    args = parser.parse_args()
    try:
        config = load_config(args.config)
    except ConfigError as err:
        print(f"evaluate_sac: {err}", file=sys.stderr)
        return 2
    from src.rl.sac.sac_agent import SacAgent, evaluate, make_env, space_mismatches

    agent = SacAgent.load(args.model or config["model_path"])
    problems = space_mismatches(agent.model, make_env(config))
    if problems:
        print("evaluate_sac: " + "; ".join(problems), file=sys.stderr)
        return 1
    print(json.dumps(evaluate(agent, config).to_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
