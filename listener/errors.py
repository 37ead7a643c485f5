"""Errors the library raises; only cli.py turns them into messages and exit codes."""

from __future__ import annotations


def _rebuild(cls: type[ListenerError], args: tuple, state: dict) -> ListenerError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class ListenerError(Exception):
    """Base of every error listener reports to a user. `exit_code` is the CLI's status.

    Errors cross process boundaries (a parse worker raises, the main process records it), so
    pickling must not call `__init__` with `args`: subclasses take keyword-only and extra
    arguments that `args` does not hold, and a failed unpickle breaks the whole worker pool.
    """

    exit_code = 1

    def __reduce__(self) -> tuple:
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


class ConfigError(ListenerError):
    """feeds.yaml is missing, unreadable or invalid."""

    exit_code = 2


class LockedError(ListenerError):
    """Another listener run holds the lock; this one stepped aside."""

    exit_code = 75


class FetchError(ListenerError):
    """A feed could not be fetched.

    `kind` is one short word shown in `listener feeds`: timeout, network, tls, http,
    not_found, gone, auth, blocked, rate_limited, too_large, redirects, encoding, bad_url.
    """

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after


class ParseError(ListenerError):
    """A fetched body is not a feed (kind: not_a_feed, empty, dtd_forbidden, too_large)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class MailError(ListenerError):
    """The digest could not be sent. `permanent` errors are not retried; kind `config` (the setup is
    wrong: no password, no AUTH without TLS) exits 2 like any configuration error."""

    def __init__(self, kind: str, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.permanent = permanent
        if kind == "config":
            self.exit_code = 2


class NotFoundError(ListenerError):
    """A thread, feed or item named on the command line does not exist."""


class UsageError(ListenerError):
    """The command line names something that does not exist in the config (exit 2, like a usage error)."""

    exit_code = 2


class StoreError(ListenerError):
    """The database file cannot be opened, read or written (a read-only folder, a damaged file)."""
