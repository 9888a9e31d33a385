"""The readiness matrix: verdicts from cells, the first failing reason, the text layout."""

from __future__ import annotations

from runbook_lib.verify.readiness_matrix import (
    Cell,
    CellStatus,
    Phase,
    Readiness,
    ReadinessReport,
    StrategyRow,
    render_text,
)


def row(strategy: str, failing: Phase | None = None, reason: str = "") -> StrategyRow:
    cells = {}
    for phase in Phase:
        if phase == failing:
            cells[phase] = Cell(CellStatus.FAIL, reason)
            break
        cells[phase] = Cell(CellStatus.PASS)
    return StrategyRow(strategy, cells)


def test_a_strategy_is_ready_only_when_every_phase_passed() -> None:
    assert row("env-var").readiness == Readiness.READY
    broken = row("config", Phase.EFFECT, "the factory still builds UnifiedSimEnv")
    assert broken.readiness == Readiness.NOT_READY
    assert broken.reason == "effect: the factory still builds UnifiedSimEnv"
    assert broken.cell(Phase.UNDO).status == CellStatus.NOT_RUN
    assert StrategyRow("x").readiness == Readiness.NOT_READY  # nothing ran: not ready
    skipped = StrategyRow("sac-full", rehearsed=False, note="why")
    assert skipped.readiness == Readiness.NOT_REHEARSED


def test_the_report_is_ready_unless_a_rehearsed_strategy_is_not() -> None:
    report = ReadinessReport("/t", "a" * 40, "INC-1", [row("env-var")])
    report.rows.append(StrategyRow("sac-full", rehearsed=False, note="why"))
    assert report.ready
    report.rows.append(row("force", Phase.PLAN, "no _FORCE_LEGACY_ENV in factory.py"))
    assert not report.ready and [r.strategy for r in report.not_ready] == ["force"]
    text = render_text(report.to_dict())
    lines = text.splitlines()
    assert lines[1].split() == ["strategy", *map(str, Phase), "verdict"]
    assert lines[2].split() == ["env-var", "ok", "ok", "ok", "ok", "ok", "ready"]
    assert "    plan: no _FORCE_LEGACY_ENV in factory.py" in text
    assert "not rehearsed: sac-full: why" in text
