"""How the env worker keeps and digests observations: same bytes, same digest, no GC load."""

from __future__ import annotations

import hashlib
import json

import numpy as np

from runbook_lib.target.worker import envleaves, envworker


def _dict_obs(value: float) -> dict[str, object]:
    return {
        "slots": np.arange(6, dtype=np.int8).reshape(2, 3),
        "holding": np.float32(value),
        "paths": (np.array([1, 0, 1], dtype=bool), np.int64(7)),
    }


def test_kept_leaves_go_back_on_the_wire_as_encode_tree_writes_them() -> None:
    for obs in (np.linspace(0, 1, 5, dtype=np.float32), _dict_obs(2.5)):
        layout, blob = envleaves.flatten(envworker, obs)
        assert envleaves.wire(layout, blob) == envworker.encode_tree(obs)["leaves"]


def test_one_layout_object_per_shape_so_kept_steps_share_it() -> None:
    first, _ = envleaves.flatten(envworker, _dict_obs(1.0))
    second, _ = envleaves.flatten(envworker, _dict_obs(2.0))
    assert first is second
    one, _ = envleaves.flatten(envworker, np.zeros(3, dtype=np.float32))
    other, _ = envleaves.flatten(envworker, np.ones(3, dtype=np.float32))
    assert one is other


def test_the_digest_covers_each_leafs_path_dtype_shape_and_bytes() -> None:
    array = np.arange(4, dtype=np.int32)
    expected = hashlib.sha1(json.dumps([[], "<i4", [4]]).encode() + array.tobytes()).hexdigest()
    assert envleaves.digest(*envleaves.flatten(envworker, array)) == expected
    reshaped = envleaves.digest(*envleaves.flatten(envworker, array.reshape(2, 2)))
    as_int64 = envleaves.digest(*envleaves.flatten(envworker, array.astype(np.int64)))
    assert len({expected, reshaped, as_int64}) == 3


def test_agreeing_steps_are_marked_same_and_a_divergence_gets_real_digests() -> None:
    steps = [envleaves.flatten(envworker, _dict_obs(v)) for v in (1.0, 2.0, 3.0)]
    odd = envleaves.flatten(envworker, _dict_obs(9.0))
    legacy = steps
    candidate = [steps[0], odd, steps[2]]
    found = envleaves.digests(
        [[s[0] for s in legacy], [s[0] for s in candidate]],
        [[s[1] for s in legacy], [s[1] for s in candidate]],
    )
    assert found[0][0] == found[1][0] == envleaves.SAME
    assert found[0][2] == found[1][2] == envleaves.SAME
    assert found[0][1] == envleaves.digest(*steps[1]) != found[1][1] == envleaves.digest(*odd)


def test_one_env_alone_and_the_steps_only_one_env_made_get_real_digests() -> None:
    steps = [envleaves.flatten(envworker, np.full(2, v, dtype=np.float32)) for v in (0, 1)]
    alone = envleaves.digests([[s[0] for s in steps]], [[s[1] for s in steps]])
    assert alone == [[envleaves.digest(*s) for s in steps]]
    longer = envleaves.digests(
        [[s[0] for s in steps], [steps[0][0]]], [[s[1] for s in steps], [steps[0][1]]]
    )
    assert longer[0] == [envleaves.SAME, envleaves.digest(*steps[1])]
    assert longer[1] == [envleaves.SAME]
    masks = envleaves.digests([[None], [None]], [[b""], [b""]])
    assert masks == [[None], [None]]
