"""The sandbox's optical-network simulator: topology, paths, both envs and their parity."""

from __future__ import annotations

import copy
import importlib
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from tests.wsutil import workspace_on_path

pytestmark = pytest.mark.filterwarnings("ignore:GeneralSimEnv is deprecated:DeprecationWarning")

MODULES = (
    "topology",
    "paths",
    "modulation",
    "traffic",
    "settings",
    "general_sim_env",
    "unified_sim_env",
    "faults",
)


@pytest.fixture(scope="module")
def ws(sandbox: Path) -> Iterator[SimpleNamespace]:
    """The session sandbox's ``src.rl.envs`` modules, imported in-process."""
    with workspace_on_path(sandbox):
        previous = sys.dont_write_bytecode
        sys.dont_write_bytecode = True  # the sandbox is shared: leave no __pycache__ in it
        try:
            loaded: dict[str, ModuleType] = {
                name: importlib.import_module(f"src.rl.envs.{name}") for name in MODULES
            }
            yield SimpleNamespace(**loaded)
        finally:
            sys.dont_write_bytecode = previous


def settings(ws: SimpleNamespace, **changes: Any) -> Any:
    return ws.settings.SimulationSettings(**changes)


def without_mask(info: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in info.items() if key != "action_mask"}


# --- topology, paths, modulation, traffic --------------------------------------------------


def test_nsfnet_has_14_nodes_and_21_links_in_km(ws: SimpleNamespace) -> None:
    topology = ws.topology.load_topology("nsfnet")
    assert topology.num_nodes == 14
    assert len(topology.links) == 21
    assert all(300 <= link.km <= 4800 for link in topology.links)
    degrees = [len(neighbours) for neighbours in topology.adjacency().values()]
    assert sum(degrees) == 42 and min(degrees) >= 2


def test_unknown_topology_is_a_clear_error(ws: SimpleNamespace) -> None:
    with pytest.raises(ValueError, match=r"topology 'atlantis'.*shipped name \(nsfnet\)"):
        ws.topology.load_topology("atlantis")


def _all_simple_paths(
    adjacency: dict[int, list[tuple[int, int]]], source: int, target: int
) -> Iterator[tuple[tuple[int, ...], tuple[int, ...]]]:
    stack: list[tuple[tuple[int, ...], tuple[int, ...]]] = [((source,), ())]
    while stack:
        nodes, links = stack.pop()
        if nodes[-1] == target:
            yield nodes, links
            continue
        for neighbour, link in adjacency[nodes[-1]]:
            if neighbour not in nodes:
                stack.append(((*nodes, neighbour), (*links, link)))


@pytest.mark.parametrize("k", [1, 3, 5])
def test_yen_gives_the_k_shortest_of_all_simple_paths(ws: SimpleNamespace, k: int) -> None:
    topology = ws.topology.load_topology("nsfnet")
    adjacency = topology.adjacency()
    table = ws.paths.all_pairs_paths(topology, k)
    for source, target in [(0, 13), (13, 0), (6, 11), (2, 9), (4, 5), (1, 12)]:
        every = []
        for nodes, links in _all_simple_paths(adjacency, source, target):
            km = float(sum(topology.links[i].km for i in links))
            every.append((km, len(links), nodes))
        expected = sorted(every)[:k]
        got = [(route.km, route.hops, route.nodes) for route in table[(source, target)]]
        assert got == expected


def test_every_pair_has_k_distinct_loop_free_paths(ws: SimpleNamespace) -> None:
    topology = ws.topology.load_topology("nsfnet")
    table = ws.paths.all_pairs_paths(topology, 3)
    assert len(table) == 14 * 13
    for (source, target), routes in table.items():
        assert len(routes) == 3
        assert len({route.nodes for route in routes}) == 3
        for route in routes:
            assert route.nodes[0] == source and route.nodes[-1] == target
            assert len(set(route.nodes)) == len(route.nodes)
        assert [r.km for r in routes] == sorted(r.km for r in routes)


@pytest.mark.parametrize(
    ("bitrate", "km", "expected"),
    [
        (100.0, 1000.0, 2 + 1),
        (100.0, 2000.0, 3 + 1),
        (100.0, 4800.0, 4 + 1),
        (100.0, 5000.0, 8 + 1),
        (25.0, 300.0, 1 + 1),
        (50.0, 9600.0, 4 + 1),
        (50.0, 9601.0, None),
    ],
)
def test_slots_follow_the_modulation_reach(
    ws: SimpleNamespace, bitrate: float, km: float, expected: int | None
) -> None:
    assert ws.modulation.slots_needed(bitrate, km, 1) == expected


def test_traffic_matches_the_offered_load(ws: SimpleNamespace) -> None:
    generator = ws.traffic.TrafficGenerator(
        np.random.default_rng(0), 14, 50.0, 10.0, (25.0, 50.0, 100.0)
    )
    requests = [generator.next_request() for _ in range(20_000)]
    arrivals = np.array([r.arrival for r in requests])
    holdings = np.array([r.holding for r in requests])
    # Seeded, so these are fixed numbers; the bounds are a few standard errors wide.
    assert np.mean(np.diff(arrivals)) == pytest.approx(10.0 / 50.0, rel=0.03)
    assert np.mean(holdings) == pytest.approx(10.0, rel=0.03)
    assert all(r.source != r.target for r in requests)
    assert {r.bitrate for r in requests} == {25.0, 50.0, 100.0}
    assert len({r.source for r in requests}) == 14


# --- settings ---------------------------------------------------------------------------


def test_settings_reject_unknown_keys_and_bad_values(ws: SimpleNamespace) -> None:
    build = ws.settings.build_settings
    with pytest.raises(ValueError, match=r"unknown simulation setting 'slots'.*num_slots"):
        build({}, {"slots": 64}, file_label="config.ini")
    with pytest.raises(ValueError, match=r"k_paths='three' in config.ini \[simulation\].*1 to 10"):
        build({"k_paths": "three"}, None, file_label="config.ini")
    with pytest.raises(ValueError, match=r"erlang=-5 in the config mapping.*positive"):
        build({}, {"erlang": -5}, file_label="config.ini")
    with pytest.raises(ValueError, match=r"num_requests=True"):
        build({}, {"num_requests": True}, file_label="config.ini")
    with pytest.raises(ValueError, match=r"guard_slots=8 leaves no room in num_slots=8"):
        build({}, {"num_slots": 8, "guard_slots": 8}, file_label="config.ini")


def test_settings_layer_defaults_file_and_overrides(ws: SimpleNamespace) -> None:
    built = ws.settings.build_settings(
        {"erlang": "80", "bitrates": "10, 40"},
        {"erlang": 90, "k_paths": "2"},
        file_label="config.ini",
    )
    assert (built.erlang, built.k_paths, built.bitrates) == (90.0, 2, (10.0, 40.0))
    assert built.num_slots == 64


# --- the gymnasium API --------------------------------------------------------------------


@pytest.mark.parametrize("env_name", ["GeneralSimEnv", "UnifiedSimEnv"])
def test_passes_the_gymnasium_checker(ws: SimpleNamespace, env_name: str) -> None:
    module = ws.general_sim_env if env_name == "GeneralSimEnv" else ws.unified_sim_env
    env = getattr(module, env_name)(settings(ws, num_requests=200))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
    assert [str(w.message) for w in caught] == []


def test_observation_layout(ws: SimpleNamespace) -> None:
    env = ws.unified_sim_env.UnifiedSimEnv(settings(ws, k_paths=3))
    obs, _ = env.reset(seed=4)
    assert env.observation_space.shape == (2 * 14 + 4 * 3,)
    assert obs.dtype == np.float32 and env.observation_space.contains(obs)
    request = env.core.request
    assert obs[:14].tolist() == [1.0 if i == request.source else 0.0 for i in range(14)]
    assert obs[14:28].tolist() == [1.0 if i == request.target else 0.0 for i in range(14)]
    lengths, needed, free, largest = obs[28:].reshape(4, 3)
    assert np.all(np.diff(lengths) >= 0)  # k shortest, shortest first
    assert np.all(free == 1.0) and np.all(largest == 1.0)  # empty network
    assert np.all(needed > 0)


def test_episode_ends_after_num_requests(ws: SimpleNamespace) -> None:
    for env in (
        ws.general_sim_env.GeneralSimEnv(settings(ws, num_requests=25)),
        ws.unified_sim_env.UnifiedSimEnv(settings(ws, num_requests=25)),
    ):
        env.reset(seed=0)
        flags = [env.step(0)[2:4] for _ in range(25)]
        assert flags == [(False, False)] * 24 + [(True, False)]


@pytest.mark.parametrize("env_name", ["GeneralSimEnv", "UnifiedSimEnv"])
def test_an_invalid_action_is_refused(ws: SimpleNamespace, env_name: str) -> None:
    module = ws.general_sim_env if env_name == "GeneralSimEnv" else ws.unified_sim_env
    env = getattr(module, env_name)(settings(ws))
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action 3 is not a path index 0..2"):
        env.step(3)


def test_legacy_env_is_deprecated_and_unified_is_not(ws: SimpleNamespace) -> None:
    with pytest.warns(DeprecationWarning, match="GeneralSimEnv is deprecated since v2.0"):
        ws.general_sim_env.GeneralSimEnv(settings(ws))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ws.unified_sim_env.UnifiedSimEnv(settings(ws))


# --- parity ----------------------------------------------------------------------------


def _assert_same_trajectory(ws: SimpleNamespace, seed: int, steps: int, *, valid_only: bool) -> int:
    config = settings(ws, num_requests=steps)
    legacy = ws.general_sim_env.GeneralSimEnv(config)
    unified = ws.unified_sim_env.UnifiedSimEnv(config)
    legacy_obs, legacy_info = legacy.reset(seed=seed)
    unified_obs, unified_info = unified.reset(seed=seed)
    assert legacy_obs.tobytes() == unified_obs.tobytes()
    assert legacy_info == without_mask(unified_info)
    rng = np.random.default_rng(1000 + seed)
    blocked = 0
    for step in range(steps):
        valid = np.flatnonzero(unified.action_masks())
        use_mask = valid_only and valid.size > 0
        action = int(rng.choice(valid)) if use_mask else int(rng.integers(3))
        left, right = legacy.step(action), unified.step(action)
        where = f"seed {seed} step {step + 1}"
        assert left[0].tobytes() == right[0].tobytes(), where
        assert (left[1], left[2], left[3]) == (right[1], right[2], right[3]), where
        assert left[4] == without_mask(right[4]), where
        blocked += left[4]["blocked"]
    assert right[2] is True
    return blocked


def test_identical_trajectories_for_20_seeds_of_500_valid_actions(ws: SimpleNamespace) -> None:
    blocked = [_assert_same_trajectory(ws, seed, 500, valid_only=True) for seed in range(20)]
    assert sum(blocked) > 0  # the comparison covered blocked requests too


def test_identical_trajectories_with_actions_that_block(ws: SimpleNamespace) -> None:
    for seed in range(3):
        assert _assert_same_trajectory(ws, seed, 300, valid_only=False) > 30


def test_identical_trajectories_on_other_settings(ws: SimpleNamespace) -> None:
    config = settings(
        ws,
        k_paths=5,
        num_slots=40,
        guard_slots=0,
        erlang=80.0,
        bitrates=(40.0, 100.0, 400.0),
        num_requests=300,
    )
    legacy = ws.general_sim_env.GeneralSimEnv(config)
    unified = ws.unified_sim_env.UnifiedSimEnv(config)
    assert legacy.reset(seed=9)[0].tobytes() == unified.reset(seed=9)[0].tobytes()
    rng = np.random.default_rng(9)
    for _ in range(300):
        action = int(rng.integers(5))
        left, right = legacy.step(action), unified.step(action)
        assert left[0].tobytes() == right[0].tobytes()
        assert left[1:4] == right[1:4] and left[4] == without_mask(right[4])


# --- the action mask --------------------------------------------------------------------


def test_mask_is_true_exactly_where_the_action_allocates(ws: SimpleNamespace) -> None:
    env = ws.unified_sim_env.UnifiedSimEnv(settings(ws, erlang=150.0, num_requests=400))
    env.reset(seed=11)
    rng = np.random.default_rng(11)
    seen = set()
    for step in range(150):
        mask = env.action_masks()
        assert mask.dtype == np.bool_ and mask.shape == (3,)
        if step >= 60:  # a loaded network: some paths fit and some do not
            for action in range(3):
                _, reward, *_ = copy.deepcopy(env).step(action)
                assert (reward == 1.0) == bool(mask[action])
                seen.add(bool(mask[action]))
        _, _, _, _, info = env.step(int(rng.integers(3)))
        assert np.array_equal(info["action_mask"], env.action_masks())
    assert seen == {True, False}


def test_mask_is_a_copy(ws: SimpleNamespace) -> None:
    env = ws.unified_sim_env.UnifiedSimEnv(settings(ws))
    _, info = env.reset(seed=0)
    mask = env.action_masks()
    mask[:] = False
    info["action_mask"][:] = False
    assert env.action_masks().all()
