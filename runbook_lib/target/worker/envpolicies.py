"""Who picks the actions in the env worker's episodes: seeded random, or an SB3 model.

Part of the env worker (standard library and the target's own numpy, torch
and SB3 only; Python >= 3.9).
"""

from __future__ import annotations

from typing import Any


class RandomPolicy:
    """The seeded random valid action runbook's lockstep always drew."""

    def __init__(self, tools: Any, space: Any, seed: int) -> None:
        """A generator per episode; a non-Discrete space samples itself, seeded."""
        self.np = tools._np()
        self.rng = self.np.random.default_rng(seed)
        self.space = space
        self.discrete = type(space).__name__ == "Discrete"
        if not self.discrete:
            space.seed(seed)

    def __call__(self, obs: Any, mask: Any) -> Any:
        """The next action."""
        if not self.discrete:
            return self.space.sample()
        if mask is not None:
            valid = self.np.asarray(mask).ravel().nonzero()[0]
            if valid.size:
                return int(valid[self.rng.integers(valid.size)])
        return int(self.rng.integers(int(self.space.n)))


class MaskedModel:
    """An SB3 model's deterministic action, kept to the env's action mask.

    Where the env offers a mask (a Discrete space), the action is the model's
    preferred valid one: the argmax of its logits (actor-critic algorithms) or
    Q-values (DQN) over the valid actions, as sb3-contrib's MaskablePPO picks
    at prediction. Where the unmasked choice is valid it equals ``predict``'s;
    a plain model otherwise asks an env that refuses invalid actions for one.
    """

    def __init__(self, tools: Any, model: Any) -> None:
        """Act with ``model`` (loaded once per worker)."""
        self.np = tools._np()
        self.model = model

    def __call__(self, obs: Any, mask: Any) -> Any:
        """The next action."""
        action = self.model.predict(obs, deterministic=True)[0]
        if mask is None:
            return action
        valid = self.np.asarray(mask, dtype=bool).ravel()
        chosen = int(self.np.asarray(action).item())
        if (chosen < valid.size and valid[chosen]) or not valid.any():
            return chosen
        scores = self._scores(obs)
        if scores is None or scores.size != valid.size:
            return chosen  # no scores to rank by: the env's refusal is the finding
        return int(self.np.where(valid, scores, -self.np.inf).argmax())

    def _scores(self, obs: Any) -> Any:
        import torch

        policy = self.model.policy
        with torch.no_grad():
            tensor = policy.obs_to_tensor(obs)[0]
            if hasattr(policy, "get_distribution"):  # PPO, A2C
                scores = policy.get_distribution(tensor).distribution.logits
            elif hasattr(policy, "q_net"):  # DQN
                scores = policy.q_net(tensor)
            else:
                return None
        return scores.cpu().numpy().ravel()
