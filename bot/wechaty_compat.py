"""Make the unmaintained Python ``wechaty`` SDK (PyPI 0.10.7, last release 2022) importable.

Call :func:`load_wechaty` instead of writing ``import wechaty``::

    from bot.wechaty_compat import load_wechaty

    wechaty = load_wechaty()
    bot = wechaty.Wechaty(wechaty.WechatyOptions(...))

Importing this module changes nothing; :func:`load_wechaty` applies the workarounds below,
imports ``wechaty`` and returns it. It is idempotent and thread-safe. Once it has run, plain
``import wechaty`` / ``import wechaty_puppet`` elsewhere get the already patched modules, but
keep such imports inside the channel package so that this is the only place that knows about
the SDK's defects. :func:`own_object_pools` gives a ``Wechaty`` instance object caches of its
own, so that several can live in one process; :func:`reset_object_pools` clears the
process-wide ones (see their docstrings).
Checked on CPython 3.11.7, 3.12.1 and 3.13.0.

What it fixes, each with the exact error seen without it:

1. Python >= 3.11 rejects an unhashable dataclass default::

       ValueError: mutable default <class 'wechaty_puppet.schemas.puppet.PuppetOptions'>
       for field puppet_options is not allowed: use default_factory

   ``wechaty.WechatyOptions.puppet_options`` defaults to a ``PuppetOptions()`` instance, and
   ``PuppetOptions`` is a plain ``@dataclass`` (``eq=True``, not frozen), so its ``__hash__``
   is ``None``; since 3.11 ``dataclasses`` treats every default whose class has
   ``__hash__ is None`` as mutable. Fix: ``PuppetOptions.__hash__ = object.__hash__`` before
   ``wechaty`` is imported. Consequence: that ONE default instance is shared by every
   ``WechatyOptions()`` built without ``puppet_options``, and ``Wechaty.__init__`` writes the
   token and endpoint into it -- always pass a fresh ``wechaty_puppet.PuppetOptions(...)``.

2. ``wechaty_puppet_service.utils`` and ``wechaty.plugin`` do ``from telnetlib import Telnet``
   (only to check that a TCP port accepts connections: the gateway's in ``ping_endpoint()``,
   127.0.0.1:<WechatyOptions.port> in ``_check_local_port()``); ``wechaty`` imports
   ``wechaty_puppet_service`` lazily, in ``Wechaty()``, so :func:`load_wechaty` imports it
   up front:

   * 3.11 / 3.12: ``DeprecationWarning: 'telnetlib' is deprecated and slated for removal in
     Python 3.13`` -- an error under pytest's ``filterwarnings = ["error"]``;
   * 3.13: ``ModuleNotFoundError: No module named 'telnetlib'``.

   Fix: while ``wechaty`` is being imported, ``sys.modules["telnetlib"]`` holds a stand-in
   whose ``Telnet`` does only what those two functions use (``open()`` = a TCP connect with a
   timeout, ``close()``). The stand-in is removed from ``sys.modules`` right after the import,
   so nothing else ever sees it; if the real ``telnetlib`` is already imported it is used as is.

3. Sending any ``FileBox`` (``room.say(file_box)``, ``msg.say(file_box)``) serialises it with
   ``FileBox.to_json_str()``, which reads the ``mimeType`` property, which calls the deprecated
   ``Logger.warn``: ``DeprecationWarning: The 'warn' method is deprecated, use 'warning'
   instead`` -- raised as an error in the middle of the send under ``filterwarnings=error``.
   Fix: the ``FileBox`` module's own logger (only that one) gets ``warn = warning``.

Two more failures are fixed by version pins, not here (``load_wechaty`` re-raises them as an
``ImportError`` that names the pin):

4. ``pyee`` >= 9: ``ImportError: cannot import name 'AsyncIOEventEmitter' from 'pyee'``
   -> needs ``pyee<9``.
5. ``urllib3`` >= 2: ``ImportError: cannot import name 'get_host' from 'urllib3'``
   (``wechaty/user/url_link.py``) -> needs ``urllib3<2``.

With these applied, importing ``wechaty`` emits no warning on 3.11-3.13, and neither does
sending text, files or images.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import os
import socket
import sys
import threading
import types
from collections.abc import Iterable, Iterator
from typing import Final, Self

__all__ = [
    "INSTALL_HINT",
    "WechatyImportError",
    "forget_room_payloads",
    "load_wechaty",
    "missing_sdk",
    "own_object_pools",
    "reset_object_pools",
    "route_sdk_logging",
]

_lock: Final = threading.Lock()

# How the SDK and its pins are installed, as the README says: from GridBot's own folder. Not
# `pip install 'gridbot[wechat]'`, which fetches whatever an index holds under that name.
INSTALL_HINT: Final = "pip install -e '.[wechat]'"
# the SDK's packages, all installed by the `wechat` extra
_SDK_MODULES: Final = ("wechaty", "wechaty_puppet", "wechaty_puppet_service")

# Known import failures that a version pin fixes: (text in the error message, requirement).
_PINNED_DEPENDENCIES: Final = (
    ("AsyncIOEventEmitter", "pyee<9"),
    ("get_host", "urllib3<2"),
)


class WechatyImportError(ImportError):
    """``wechaty`` cannot be imported, and the message says what to install: the SDK or a
    dependency is missing, or a dependency is too new."""


class _TelnetStandIn:
    """Just enough of ``telnetlib.Telnet`` for the SDK's two port checks.

    ``ping_endpoint()`` and ``_check_local_port()`` do ``tn = Telnet(); tn.open(host,
    port=port, timeout=3)`` and treat an ``OSError`` (``socket.error``) as "nothing listens";
    the object is then dropped, and ``__del__`` closes the socket as the real class does.
    """

    def __init__(self, host: str | None = None, port: int = 0, timeout: float | None = None):
        self.sock: socket.socket | None = None
        if host is not None:
            self.open(host, port, timeout)

    def open(self, host: str, port: int = 0, timeout: float | None = None) -> None:
        self.close()
        self.sock = socket.create_connection((host, port or 23), timeout)

    def close(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


@contextlib.contextmanager
def _telnetlib_stand_in() -> Iterator[None]:
    """Fix 2: a throw-away ``telnetlib`` module for the duration of the SDK import."""
    if "telnetlib" in sys.modules:  # the real one is loaded already: no new warning to avoid
        yield
        return
    stand_in = types.ModuleType("telnetlib", "Stand-in installed by bot.wechaty_compat.")
    stand_in.Telnet = _TelnetStandIn  # type: ignore[attr-defined]
    sys.modules["telnetlib"] = stand_in
    try:
        yield
    finally:
        if sys.modules.get("telnetlib") is stand_in:
            del sys.modules["telnetlib"]


def _make_puppet_options_hashable() -> None:
    """Fix 1: let ``PuppetOptions()`` be a dataclass field default again."""
    schemas = importlib.import_module("wechaty_puppet.schemas.puppet")
    puppet_options = schemas.PuppetOptions
    if puppet_options.__hash__ is None:
        puppet_options.__hash__ = object.__hash__


def _use_logger_warning_in_file_box() -> None:
    """Fix 3: ``logger.warn(...)`` in ``wechaty_puppet/file_box/file_box.py`` -> ``warning``."""
    file_box = importlib.import_module("wechaty_puppet.file_box.file_box")
    logger = file_box.logger  # logging.getLogger("FileBox"), used only by that module
    logger.warn = logger.warning  # an instance attribute: other loggers are not touched


def _not_installed(what: str) -> str:
    return (
        f"the wechaty SDK is not installed ({what}): run `{INSTALL_HINT}` in GridBot's folder "
        "(the `wechat` extra)"
    )


def _findable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ValueError:  # imported already, without a spec: it is there
        return True


def missing_sdk() -> str | None:
    """What to do when the SDK is not installed, or None. Looked up without importing the
    SDK (that takes a second), so a command can say it before it starts anything."""
    missing = [name for name in _SDK_MODULES if not _findable(name)]
    return _not_installed(f"no module {missing[0]!r}") if missing else None


def _explain(error: ImportError) -> WechatyImportError | None:
    if isinstance(error, ModuleNotFoundError):  # the SDK or one of its dependencies
        return WechatyImportError(_not_installed(str(error)))
    for needle, requirement in _PINNED_DEPENDENCIES:
        if needle in str(error):
            return WechatyImportError(
                f"cannot import the wechaty SDK: {error}. Install {requirement!r} "
                f"(the SDK was written against the older API)."
            )
    return None


def load_wechaty(cache_dir: str | os.PathLike[str] | None = None) -> types.ModuleType:
    """Apply the workarounds (once), import ``wechaty`` and return the module.

    ``cache_dir``: where the SDK writes its files, passed to it as the ``CACHE_DIR``
    environment variable (the SDK's own setting; default ``./.wechaty`` in the working
    directory). Importing ``wechaty`` creates that folder, and every ``Wechaty()`` opens an
    SQLite job store ``<CACHE_DIR>/job.db`` unless ``WechatyOptions(scheduler=...)`` is given.
    Only the first call can change it: the SDK reads it at import time. ``wechaty_puppet``
    also creates an (unused) ``./.wechaty`` on import whatever ``CACHE_DIR`` says; with
    ``cache_dir`` given, that folder is removed again if the import created it and it is empty.

    Raises:
        WechatyImportError: the SDK or a dependency is not installed, or a dependency is
            too new (``pyee>=9`` or ``urllib3>=2``); the message says what to install.
        ImportError: another import problem.
    """
    with _lock:
        loaded = sys.modules.get("wechaty")
        if loaded is not None:
            return loaded
        stray = os.path.abspath(".wechaty")  # wechaty_puppet/config.py: makedirs(".wechaty")
        stray_existed = os.path.exists(stray)
        if cache_dir is not None:
            os.environ["CACHE_DIR"] = os.fspath(cache_dir)
        try:
            _make_puppet_options_hashable()
            _use_logger_warning_in_file_box()
            with _telnetlib_stand_in():
                # `wechaty` imports `wechaty_puppet_service` lazily, inside `Wechaty()`; import
                # it now so that its `from telnetlib import Telnet` meets the stand-in.
                importlib.import_module("wechaty_puppet_service")
                module = importlib.import_module("wechaty")
        except ImportError as error:
            explained = _explain(error)
            if explained is not None:
                raise explained from error
            raise
        cache = os.path.abspath(os.environ.get("CACHE_DIR", ".wechaty"))
        if cache_dir is not None and not stray_existed and cache != stray:
            with contextlib.suppress(OSError):  # not empty, or gone: leave it alone
                os.rmdir(stray)
        return module


def reset_object_pools() -> None:
    """Forget the SDK's process-wide ``Contact`` / ``Room`` / ``Tag`` objects.

    ``Contact.load()``, ``Room.load()`` and ``Tag.load()`` cache objects in a dict on the SDK's
    base class, shared by every ``Wechaty`` instance in the process, and each cached object
    stays bound to the puppet of the instance that loaded it first. A second ``Wechaty``
    instance therefore gets objects bound to the first one's (stopped) puppet, and e.g.
    ``msg.room().say(...)`` fails with ``WechatyPuppetError('puppet_stub should not be none')``.
    Call this before creating another ``Wechaty`` instance in the same process (tests do).
    Reconnecting the SAME instance needs no reset: it keeps its ``PuppetService`` object.
    Also forgets the global set of already-seen message ids (used to drop duplicates).
    """
    wechaty = load_wechaty()
    for cls in (wechaty.Contact, wechaty.Room, wechaty.Tag):
        cls._pool.clear()
    helper = importlib.import_module("wechaty.utils.async_helper")
    helper.SingleIdContainer._instance = None


def own_object_pools(bot: object) -> None:
    """Give ``bot`` (a ``Wechaty`` after ``init_puppet()``) ``Contact``, ``ContactSelf``,
    ``Room`` and ``Tag`` object caches of its own.

    ``init_puppet()`` binds a subclass of each to the instance's puppet ("to serve multi bot
    instances"), but ``load()`` caches in ``cls._pool``, which those subclasses inherit from
    the SDK's base class: a room loaded by one instance would be returned, bound to that
    instance's puppet, to every other, and a reply would go out from the wrong account.
    """
    for name in ("Contact", "ContactSelf", "Room", "Tag"):
        cls = getattr(bot, name)
        if "_pool" not in vars(cls):
            cls._pool = {}


# The format wechaty_puppet.logger.get_logger() gives the handler it puts on every SDK logger.
_SDK_LOG_FORMAT: Final = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"


class _Redact(logging.Filter):
    """Replace secrets in a record's message (the SDK logs the token in clear)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self.secrets):
            for secret in self.secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


def _is_sdk_logger(logger: logging.Logger) -> bool:
    return any(
        handler.formatter is not None and handler.formatter._fmt == _SDK_LOG_FORMAT
        for handler in logger.handlers
    ) or any(isinstance(f, _Redact) for f in logger.filters)


def route_sdk_logging(level: int = logging.WARNING, secrets: Iterable[str] = ()) -> None:
    """Send the SDK's log records through the application's logging, at ``level`` and above,
    with ``secrets`` masked.

    ``wechaty_puppet.logger.get_logger()`` gives each of the SDK's ~20 loggers (``Wechaty``,
    ``PuppetService``, ``Room``, ...) its own stderr handler and format, ``propagate=False``,
    and the level of ``$WECHATY_LOG`` (default INFO: a line per message and per send). And
    ``PuppetService()`` logs the token in clear at WARNING (``there are endpoint<...> and
    token<...>``). Call after :func:`load_wechaty` and before creating a ``Wechaty``; calling
    again adds the secrets to those masked before (each account of a process has a token).
    """
    load_wechaty()
    loggers = [
        logger
        for logger in list(logging.Logger.manager.loggerDict.values())
        if isinstance(logger, logging.Logger) and _is_sdk_logger(logger)
    ]
    known = {s for logger in loggers for f in _redactions(logger) for s in f.secrets}
    redact = _Redact([*sorted(known), *secrets])
    for logger in loggers:
        logger.handlers = []
        logger.propagate = True
        logger.setLevel(level)
        for old in _redactions(logger):
            logger.removeFilter(old)
        logger.addFilter(redact)


def _redactions(logger: logging.Logger) -> list[_Redact]:
    return [f for f in logger.filters if isinstance(f, _Redact)]


def forget_room_payloads(rooms: Iterable[object]) -> None:
    """Make the next ``room.ready()`` fetch these rooms' payloads again (finding 11).

    ``Room.ready(force_sync=True)`` does nothing for a room that has a payload, so a renamed
    room keeps its old topic; ``room.payload = None`` works but logs a WARNING ("set payload
    more than once"). Dropping the private ``_payload`` is the quiet way.
    """
    for room in rooms:
        if getattr(room, "_payload", None) is not None:
            room._payload = None  # type: ignore[attr-defined]
