"""Logging for every `gridbot` command: one format on stderr, residents' numbers masked.

Residents write phone and ID-card numbers into the group ("我电话13812345678"); the database
keeps them for the worker who handles the matter, but a log is read by whoever runs the
server and is shipped to log collectors, so nothing leaves through a log unmasked. The mask
is applied at the handler, where every record ends up whichever library logged it (the
wechaty SDK logs payloads at debug level), and covers the message, its arguments, and the
text of an attached exception.
"""

from __future__ import annotations

import logging
import sys
import traceback
from typing import TextIO

from nlp.privacy import mask_personal

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class MaskPersonalNumbers(logging.Filter):
    """Rewrites a record so that its message and exception text carry masked numbers."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_personal(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            # Formatters reuse exc_text once set (another handler may have set it first): an
            # exception's message quoting the resident's text is masked like the rest.
            record.exc_text = mask_personal(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_personal(record.stack_info)
        return True


class _GridbotHandler(logging.StreamHandler[TextIO]):
    """The one handler setup_logging installs; a second call replaces it, not adds one."""


def setup_logging(level: str, stream: TextIO | None = None) -> None:
    """Send every logger's records to ``stream`` (stderr), masked, at ``level`` and above."""
    handler = _GridbotHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(MaskPersonalNumbers())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _GridbotHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
