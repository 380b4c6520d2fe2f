"""Text for people, the same in the command line and the app: durations (one-line errors are
``core.io.records.one_line``)."""

from __future__ import annotations


def format_duration(seconds: float | None) -> str:
    """'0:07', '12:30', '1:02:03'; '' for None (not known yet)."""
    if seconds is None:
        return ""
    seconds = int(round(max(0.0, seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
