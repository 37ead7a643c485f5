"""Logging set up once for the CLI: a timestamp on a terminal or in a file, none under journald.

journald stamps every line itself and reads a `<N>` prefix as the syslog priority, so under
systemd a line carries its priority and no second timestamp (`journalctl -p warning` works).
systemd tells us through JOURNAL_STREAM (device:inode of the stream it connected); it is only
believed when stderr is still that stream, not when the daemon's output was redirected.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JOURNAL_FORMAT = "%(name)s: %(message)s"
_SYSLOG_PRIORITY = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))


def on_journal(stream: TextIO, environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """Whether `stream` is the journal stream systemd handed us."""
    expected = environ.get("JOURNAL_STREAM", "")
    try:
        device, inode = (int(part) for part in expected.split(":"))
        stat = os.fstat(stream.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (stat.st_dev, stat.st_ino) == (device, inode)


class JournalFormatter(logging.Formatter):
    """`<priority>name: message`, as systemd's SyslogLevelPrefix reads it."""

    def __init__(self) -> None:
        super().__init__(JOURNAL_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        priority = next((p for level, p in _SYSLOG_PRIORITY if record.levelno >= level), 7)
        return f"<{priority}>" + super().format(record).replace("\n", "\n" + f"<{priority}>")


def configure(level: int, stream: TextIO | None = None) -> None:
    """Send log records at `level` and above to stderr, formatted for where stderr goes."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JournalFormatter() if on_journal(stream) else logging.Formatter(PLAIN_FORMAT))
    logging.basicConfig(level=level, handlers=[handler])
