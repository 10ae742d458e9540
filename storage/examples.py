"""Training examples: messages labelled by leaders' corrections (/改类, /驳回 … 不是诉求,
/受理, /补录), for the classifier to learn from.

Only the masked text is kept (phone and ID numbers as the bot masks what it repeats into a
group), cut to what the classifier reads; examples can be deleted by date or one by one
(`gridbot examples delete`). They are listed as lines of the labelled data sets in
tests/data/classify/ so that training reads both alike.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CursorResult, delete
from sqlmodel import Session, col, select

from nlp.normalize import is_traditional
from nlp.privacy import mask_personal
from nlp.quality import LabelledRow
from nlp.vocabulary import CATEGORY_CODES
from storage.models import ExampleSource, TrainingExample

# The classifier reads no further than this (categories.yaml's `max_chars`, shipped 500);
# the model learns from what it will be shown.
MAX_TEXT_CHARS = 500
# An exported example's id: its row id after this, apart from the data sets' (t001, u001, v001).
ID_PREFIX = "c"


def add(
    *,
    session: Session,
    text: str,
    is_request: bool,
    category: str | None,
    source: ExampleSource,
    grid_code: str,
    contact_id: str,
    at: datetime,
    ticket_id: int | None = None,
) -> TrainingExample | None:
    """Keep ``text`` (masked, cut) labelled as a request of ``category`` or as no request
    (``category`` None); None when nothing is left of it to learn from."""
    if is_request != (category is not None):
        raise ValueError("a request has a category, and only a request has one")
    if category is not None and category not in CATEGORY_CODES:
        raise ValueError(f"unknown category {category!r}")
    # Masked before it is cut: a number cut in two would no longer be found to mask.
    kept = mask_personal(text.strip())[:MAX_TEXT_CHARS].strip()
    if not kept:
        return None
    example = TrainingExample(
        text=kept,
        is_request=is_request,
        category=category,
        source=source,
        grid_code=grid_code,
        ticket_id=ticket_id,
        contact_id=contact_id,
        created_at=at,
    )
    session.add(example)
    return example


def rows(
    *, session: Session, since: datetime | None = None, grid_code: str | None = None
) -> list[LabelledRow]:
    """The examples (created at or after ``since``, of ``grid_code``) as data-set lines,
    oldest first: ``{"id", "text", "is_request", "category", "urgent", "script"}``.

    A text corrected more than once (/受理, then /改类) is listed once, as last corrected:
    the leader's latest word on it. Urgency is the keyword rules' alone, never learned
    from corrections: ``urgent`` is always false.
    """
    query = select(TrainingExample).order_by(col(TrainingExample.id))
    if since is not None:
        query = query.where(col(TrainingExample.created_at) >= since)
    if grid_code is not None:
        query = query.where(TrainingExample.grid_code == grid_code)
    latest: dict[str, TrainingExample] = {}
    for example in session.exec(query):
        latest[example.text] = example
    return [_row(example) for example in sorted(latest.values(), key=lambda e: e.id or 0)]


def _row(example: TrainingExample) -> LabelledRow:
    return {
        "id": f"{ID_PREFIX}{example.id}",
        "text": example.text,
        "is_request": example.is_request,
        "category": example.category,
        "urgent": False,
        "script": "traditional" if is_traditional(example.text) else "simplified",
    }


def delete_before(*, session: Session, before: datetime) -> int:
    """Delete the examples created before ``before``; how many there were."""
    result = session.execute(
        delete(TrainingExample).where(col(TrainingExample.created_at) < before)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount


def delete_one(*, session: Session, example_id: int) -> bool:
    """Delete one example by its id; whether it was there."""
    result = session.execute(delete(TrainingExample).where(col(TrainingExample.id) == example_id))
    assert isinstance(result, CursorResult)
    return result.rowcount > 0
