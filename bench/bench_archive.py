"""Cost of the evidence archive: seal and verify per incident, a 1000-incident verify, signing.

1. Seal and verify of one incident with a few runs' worth of files (median of
   ``--repeats``).
2. ``verify_archive`` over ``--incidents`` small sealed incidents (goal: under
   10 s for 1000 on 2 cores), and what sealing each of them cost early and
   late in the archive's growth (a seal must not slow down as the archive,
   and its transparency log, grow).
3. Signing overhead: seals with ``RUNBOOK_SIGNING_KEY`` set and without,
   interleaved (unsigned, signed, unsigned, ...; ``--signing-runs`` of each):
   both medians and their ratio (goal: signed at most 10% above unsigned).

Figures are printed; exit status 1 only when a goal is missed by a wide margin
(the 1000-incident verify above 20 s, signing above 25%): the machines are noisy.

    python bench/bench_archive.py [--workspace DIR] [--incidents 1000] [--repeats 15]
        [--signing-runs 101]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from runbook_lib.evidence import attest
from runbook_lib.evidence.seal import seal, verify_archive, verify_incident

FACTS: dict[str, object] = {"versions": {}}


def make_incident(store: Path, number: int, files: int) -> Path:
    """An incident directory with ``files`` small records, not sealed yet."""
    directory = store / "incidents" / f"INC-20261202-0000-{number:04x}"
    (directory / "checks").mkdir(parents=True)
    (directory / "incident.json").write_text(json.dumps({"id": directory.name}))
    for index in range(files):
        (directory / "checks" / f"{index:02d}-verify.json").write_text(
            json.dumps({"check": index, "status": "pass", "pad": "x" * 2000})
        )
    return directory


def _timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def one_incident(store: Path, repeats: int) -> tuple[float, float]:
    directory = make_incident(store, 0, 40)
    seals = [_timed(lambda: seal(store, directory, facts=FACTS)) for _ in range(repeats)]
    verifies = [_timed(lambda: verify_incident(store, directory)) for _ in range(repeats)]
    return statistics.median(seals), statistics.median(verifies)


def many_incidents(store: Path, count: int) -> tuple[list[float], float]:
    """Each seal's time as the archive grows to ``count`` incidents, then the archive's verify."""
    seals = []
    for number in range(1, count + 1):
        directory = make_incident(store, number, 3)
        began = time.perf_counter()
        seal(store, directory, facts=FACTS)
        seals.append(time.perf_counter() - began)
    began = time.perf_counter()
    reports = verify_archive(store)
    elapsed = time.perf_counter() - began
    if not all(report.ok for report in reports):
        sys.exit("the generated archive does not verify")
    return seals, elapsed


def signing_overhead(store: Path, key: Path, runs: int) -> tuple[float, float, float]:
    """The median seal time unsigned and signed, measured interleaved in one archive.

    Also the median of the differences of each pair (an unsigned seal and the
    signed one right after it), which a machine growing busier or quieter
    during the run moves less than either median.

    Unsigned and signed seals alternate (A B A B ...), the same number of each,
    so that a machine getting busier or quieter weighs on both alike; one seal
    of each kind first warms the index, the log and the key cache up. Each kind
    reseals its own incident (the same files), as an archive is either signed or
    not: sealing one incident both ways would time an unsigned seal deleting
    the envelope and a signed one creating it anew.
    """
    incidents = {signed: make_incident(store, 0xFFFE + signed, 40) for signed in (False, True)}

    def one(signed: bool) -> float:
        if signed:
            os.environ[attest.SIGNING_KEY_ENV] = str(key)
        else:
            os.environ.pop(attest.SIGNING_KEY_ENV, None)
        return _timed(lambda: seal(store, incidents[signed], facts=FACTS))

    one(False), one(True)
    times: dict[bool, list[float]] = {False: [], True: []}
    for _turn in range(runs):
        for signed in (False, True):
            times[signed].append(one(signed))
    os.environ.pop(attest.SIGNING_KEY_ENV, None)
    pairs = [s - u for u, s in zip(times[False], times[True], strict=True)]
    return statistics.median(times[False]), statistics.median(times[True]), statistics.median(pairs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=None)
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--signing-runs", type=int, default=101)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workspace) as tmp:
        root = Path(tmp)
        key = attest.generate_keypair(root / "keys" / "seal.key", root / "store")[0]
        seal_s, verify_s = one_incident(root / "one", args.repeats)
        print(f"seal of one incident (41 files):   {seal_s * 1000:8.1f} ms")
        print(f"verify of one incident (41 files): {verify_s * 1000:8.1f} ms")
        seals, many = many_incidents(root / "store", args.incidents)
        tenth = max(len(seals) // 10, 1)
        first, last = statistics.median(seals[:tenth]), statistics.median(seals[-tenth:])
        print(
            f"seal of a small incident, the archive's first {tenth} / last {tenth} of "
            f"{args.incidents}: {first * 1000:.1f} / {last * 1000:.1f} ms (median)"
        )
        print(
            f"verify of {args.incidents} small incidents:    {many:8.2f} s "
            f"({many / args.incidents * 1000:.2f} ms each; goal under 10 s for 1000)"
        )
        plain, signed, paired = signing_overhead(root / "signed", key, args.signing_runs)
        overhead = signed / plain - 1.0
        runs = f"median of {args.signing_runs}, interleaved"
        print(f"seal, unsigned ({runs}): {plain * 1000:8.2f} ms")
        print(f"seal, signed   ({runs}): {signed * 1000:8.2f} ms")
        verdict = "met" if overhead <= 0.10 else "MISSED"
        print(
            f"signing overhead on a seal: signed/unsigned = {signed / plain:.3f} "
            f"({overhead * 100:+.1f} %); goal at most +10%: {verdict}"
        )
        print(
            f"signing, paired: median of signed - unsigned per pair {paired * 1000:+.2f} ms "
            f"({paired / plain * 100:+.1f} % of the unsigned median)"
        )
    scale = args.incidents / 1000
    return 1 if many > 20 * scale or overhead > 0.25 else 0


if __name__ == "__main__":
    raise SystemExit(main())
