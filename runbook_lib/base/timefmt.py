"""Times and durations as a reviewer reads them: ``2026-12-03 07:15 UTC``, ``4 min 12 s``.

Records keep ISO 8601 (with microseconds where the journal has them) or
epoch seconds; what people read (the post-mortem, the report, tables in the
executed notebooks) goes through :func:`utc_time` and :func:`duration_text`,
which accept any of those forms and never show a raw float or a fraction of
a second.
"""

from __future__ import annotations

from datetime import UTC, datetime


def _moment(value: object) -> datetime | None:
    """``value`` (a datetime, an ISO 8601 text, epoch seconds) as an aware UTC datetime."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(float(value), UTC)
    elif isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def utc_time(value: object, *, seconds: bool = False, zone: bool = True) -> str:
    """``2026-12-03 07:15 UTC`` (``07:15:22`` with ``seconds``; no ``UTC`` without ``zone``).

    ``value`` may be a datetime (naive ones are taken as UTC), an ISO 8601
    text or epoch seconds; nothing (``None``, ``""``) reads ``-``, and a
    text that is no time is returned as it is.
    """
    moment = _moment(value)
    if moment is None:
        return "-" if value is None or value == "" else str(value)
    text = moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{text} UTC" if zone else text


def duration_text(seconds: float | None) -> str:
    """``4.2 s``, ``42 s``, ``4 min 12 s``, ``2 h 05 min``, ``3 h``; ``-`` for nothing."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{max(seconds, 0.0):.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"
