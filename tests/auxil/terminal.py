"""A program run in a pseudo-terminal and typed at, as a person at a keyboard would: what
only happens in a terminal (line editing, output while a line is being typed) is tested so."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import termios
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

# Makes the terminal the program's own (its controlling terminal), as a shell does: then a
# Ctrl-C typed interrupts it. (Popen's preexec_fn could, but isn't safe with threads.)
_OWN_TERMINAL = (
    "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


class Terminal:
    """``argv`` with stdin, stdout and stderr on one pseudo-terminal (as in a shell)."""

    def __init__(self, argv: Sequence[str], *, env: dict[str, str], cwd: Path) -> None:
        master, slave = os.openpty()
        self._master = master
        self._output = b""
        self.process = subprocess.Popen(
            [sys.executable, "-c", _OWN_TERMINAL, *argv],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**env, "TERM": "xterm"},
            cwd=cwd,
            start_new_session=True,
        )
        os.close(slave)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        os.close(self._master)

    @property
    def output(self) -> str:
        """Everything the program wrote so far, escape sequences and all."""
        return self._output.decode(errors="replace")

    def cooked(self) -> bool:
        """Whether the terminal echoes and reads whole lines, as a shell leaves it for the
        next program (readline turns both off while it edits a line)."""
        lflag = termios.tcgetattr(self._master)[3]
        return bool(lflag & termios.ECHO) and bool(lflag & termios.ICANON)

    def type(self, keys: str) -> None:
        os.write(self._master, keys.encode())

    def wait_for(self, text: str, *, after: int = 0, timeout: float = 30) -> int:
        """Read until ``text`` appears past character ``after`` of the output; its end."""
        deadline = time.monotonic() + timeout
        while (found := self.output.find(text, after)) < 0:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{text!r} never came; the screen showed:\n{self.output}")
            ready, _, _ = select.select([self._master], [], [], min(left, 0.2))
            if ready:
                try:
                    chunk = os.read(self._master, 65536)
                except OSError:  # the program ended and closed the terminal
                    chunk = b""
                if not chunk and self.process.poll() is not None:
                    raise AssertionError(f"ended before {text!r}:\n{self.output}")
                self._output += chunk
        return found + len(text)
