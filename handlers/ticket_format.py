"""Moved to domain/ticket_format.py (the web console reads tickets as the chat does); kept so
that the chat handlers' imports stay as they are. New code imports domain.ticket_format."""

from __future__ import annotations

from domain.ticket_format import (
    RATINGS,
    SAME_MATTER,
    SNIPPET_CHARS,
    category_code,
    category_name,
    category_of,
    is_overdue,
    line,
    masked_name,
    quoted,
    snippet,
    status_label,
    summary,
    time_limit,
    unknown_category,
    when,
)

__all__ = [
    "RATINGS",
    "SAME_MATTER",
    "SNIPPET_CHARS",
    "category_code",
    "category_name",
    "category_of",
    "is_overdue",
    "line",
    "masked_name",
    "quoted",
    "snippet",
    "status_label",
    "summary",
    "time_limit",
    "unknown_category",
    "when",
]
