"""Policy questions (政策咨询) are answered, not ticketed with a deadline: from the knowledge
base in ``config/faq.yaml`` when an entry matches, else passed to the grid's leaders."""

from __future__ import annotations

from bot.context import Context
from bot.events import Outbound
from bot.settings import FaqEntry, FaqSettings
from handlers.ticket_access import leader_ids, leader_title
from nlp.normalize import normalize
from nlp.privacy import mask_personal


def best_entry(faq: FaqSettings, question: str) -> FaqEntry | None:
    """The entry with the most of its words in ``question`` (the longest word breaks a tie);
    None when no entry has any."""
    text = normalize(question)
    best: tuple[int, int] = (0, 0)
    found: FaqEntry | None = None
    for entry in faq.entries:
        hits = [word for word in entry.words if normalize(word) in text]
        score = (len(hits), max((len(w) for w in hits), default=0))
        if hits and score > best:
            best, found = score, entry
    return found


def answer_consult(ctx: Context) -> bool:
    """Answer a resident's policy question in the group, or tell them it was passed on and
    pass it to the leaders privately. True: answered either way."""
    grid = ctx.grid
    assert grid is not None
    entry = best_entry(ctx.settings.faq, ctx.event.text)
    if entry is not None:
        ctx.reply(entry.answer)
        return True
    leaders = leader_ids(ctx, grid.code)
    if not leaders:
        return False  # nobody to pass it to: a ticket keeps it
    question = mask_personal(ctx.event.text)
    for leader in leaders:
        ctx.send(
            Outbound(text=f"【咨询】{grid.name} {ctx.event.sender_name}：{question}", to=leader)
        )
    ctx.reply(f"您的问题已转告{leader_title(ctx, grid.code)}，请稍候答复。")
    return True
