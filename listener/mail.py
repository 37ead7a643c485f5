"""The digest email: building the message and handing it to an SMTP server.

Headers are built only from our own strings and the config, and cleaned again here: a CR or
LF that reached a header could add one (RELIABILITY D6). Sending never hangs (every socket
operation has the configured timeout), and every way it can fail becomes one `MailError`
whose `permanent` says whether trying again can help. The ledger of what was sent lives in
the database and is kept by `pipeline.run_digest`; this module never decides "sent".
"""

from __future__ import annotations

import datetime as dt
import email.policy
import hashlib
import logging
import os
import re
import smtplib
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from listener.errors import ConfigError, MailError, UsageError
from listener.models import SmtpSpec
from listener.text import one_line

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 5 * 1024 * 1024  # RELIABILITY G7: well under what servers accept
_ADDRESS = re.compile(r'[^@\s<>,;:"()\[\]\\\x00-\x1f\x7f]+@[^@\s<>,;:"()\[\]\\\x00-\x1f\x7f]+')


def clean_header(value: str, limit: int = 250) -> str:
    """One line: CR, LF, every other control character and bidi controls go (RELIABILITY D6)."""
    return one_line(value, limit)


def check_address(address: str) -> str:
    """A bare address (user@example.com); anything else, CR/LF included, is a usage error."""
    address = address.strip()
    if not _ADDRESS.fullmatch(address):
        raise UsageError(f"not an email address: {address!r} (expected one like team@example.com)")
    return address


def installation_id(database: str | os.PathLike[str]) -> str:
    """Ten hex digits that tell one installation from another: this host's name and the database's
    absolute path, hashed. The path alone is the same on every machine set up from the README, the
    host alone is the same for two instances on one machine; together they stay put across runs."""
    where = f"{socket.gethostname()}\0{Path(database).resolve()}"
    return hashlib.sha256(where.encode("utf-8", "surrogateescape")).hexdigest()[:10]


def id_domain(from_addr: str) -> str:
    """The right-hand side of our Message-IDs: the domain we send from (in ASCII), as RFC 5322 asks."""
    domain = from_addr.rpartition("@")[2].strip().lower().rstrip(".")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return "listener.invalid"
    return domain if re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)*", domain) else "listener.invalid"


def message_id(day: dt.date, recipients: Sequence[str], *, resend: int = 0, installation: str = "",
               domain: str = "listener") -> str:
    """<digest-YYYYMMDD-HASH-INSTALLATION@DOMAIN>: the same for the same installation, day and
    recipient list, so a retry after a crash reuses it and mail clients can drop the duplicate; two
    installations mailing one inbox on the same day differ (clients would hide one). A forced resend
    (`resend` > 0) gets its own, or clients that deduplicate would hide it. Pass `installation`
    (installation_id) and `domain` (id_domain): the defaults only reproduce the ids of old ledgers."""
    digest = hashlib.sha256(",".join(sorted({r.strip().lower() for r in recipients})).encode()).hexdigest()[:12]
    where = f"-{installation}" if installation else ""
    suffix = f"-r{resend}" if resend else ""
    return f"<digest-{day:%Y%m%d}-{digest}{where}{suffix}@{domain}>"


def build_message(*, subject: str, from_addr: str, to: Sequence[str], text: str, html: str,
                  message_id: str, date: dt.datetime) -> EmailMessage:
    """multipart/alternative: text/plain first, then text/html, both UTF-8 quoted-printable."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["Subject"] = clean_header(subject)
    message["From"] = check_address(from_addr)
    if to:  # none only when printing a digest no one is configured to receive
        message["To"] = ", ".join(check_address(address) for address in to)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = clean_header(message_id)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: autoresponders stay quiet
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    size = len(message.as_bytes())
    if size > MAX_MESSAGE_BYTES:
        raise MailError("too_large", f"the digest is {size} bytes, over {MAX_MESSAGE_BYTES}: lower digest.max_items",
                        permanent=True)
    return message


def printable(message: EmailMessage) -> str:
    """The message exactly as it would be sent, with \\n line ends (`listener digest --raw`)."""
    return message.as_string(policy=message.policy.clone(linesep="\n"))


def preview(message: EmailMessage) -> str:
    """What a person reads: the headers decoded, then the plain-text part (`listener digest`)."""
    names = ("Subject", "From", "To", "Date", "Message-ID")
    head = "".join(f"{name}: {message[name]}\n" for name in names if message[name] is not None)
    html = message.get_body(("html",))
    size = len(html.get_content().encode("utf-8")) if html is not None else 0
    text = message.get_body(("plain",))
    body = text.get_content() if text is not None else ""
    return f"{head}\n{body.rstrip()}\n\n[and a text/html part of {size} bytes, styles inlined; --raw prints the whole message]\n"


@dataclass
class Delivery:
    """What the server said: who it accepted and who it refused (code, text) in one transaction."""

    accepted: list[str] = field(default_factory=list)
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)


def send(message: EmailMessage, recipients: Sequence[str], spec: SmtpSpec, *, from_addr: str,
         password: str | None = None) -> Delivery:
    """Send `message` to `recipients` (the envelope; headers are not read for recipients).

    A refusal of some recipients comes back in `Delivery.refused`; a failure of the whole
    transaction (connection, timeout, TLS, login, sender or DATA refused) raises MailError.
    Once the server has accepted the data, a failure while saying goodbye is only logged.
    """
    if spec.username and not password:  # the pipeline checks with smtp_password() first; this is the backstop
        raise MailError("config", _no_password(spec))
    where = f"{spec.host}:{spec.port}"
    refused: dict | None = None
    stage = "connect"
    try:
        with _connect(spec) as smtp:
            if spec.starttls:
                stage = "starttls"
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if spec.username:
                stage = "login"
                smtp.login(spec.username, password or "")
            stage = "send"
            refused = smtp.send_message(message, from_addr=from_addr, to_addrs=list(recipients))
    except smtplib.SMTPRecipientsRefused as exc:
        return Delivery([], {_text(k): _reply(v) for k, v in exc.recipients.items()})
    except Exception as exc:  # noqa: BLE001 - every failure becomes one MailError below
        if refused is None:
            raise _mail_error(exc, where, spec, stage) from None
        log.warning("SMTP %s accepted the digest but the goodbye failed: %s", where, exc)
    refused_map = {_text(k): _reply(v) for k, v in (refused or {}).items()}
    return Delivery([r for r in recipients if r not in refused_map], refused_map)


def smtp_password(spec: SmtpSpec, environ: Mapping[str, str] = os.environ) -> str | None:
    """The SMTP password from the environment variable `password_env` names; None without a username.

    A username with no password is a configuration error (exit 2), never a temporary failure to retry:
    call this before claiming recipients in the ledger, so nothing is marked as being sent."""
    if not spec.username:
        return None
    password = environ.get(spec.password_env) if spec.password_env else None
    if not password:
        raise ConfigError(_no_password(spec))
    return password


def _no_password(spec: SmtpSpec) -> str:
    if not spec.password_env:
        return "digest.smtp.username is set but digest.smtp.password_env names no environment variable"
    return (f"digest.smtp.username is set but the environment variable {spec.password_env} is empty or unset "
            "(put the SMTP password there; under systemd, in /etc/listener/env)")


def _connect(spec: SmtpSpec) -> smtplib.SMTP:
    if spec.ssl:
        return smtplib.SMTP_SSL(spec.host, spec.port, timeout=spec.timeout,
                                context=ssl.create_default_context())
    return smtplib.SMTP(spec.host, spec.port, timeout=spec.timeout)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _reply(value: tuple) -> tuple[int, str]:
    code, text = value
    return int(code), clean_header(_text(text), 200)


def _mail_error(exc: Exception, where: str, spec: SmtpSpec, stage: str = "") -> MailError:
    """One line that says what happened and whether retrying can help. Never the password."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return MailError("auth", f"SMTP {where} refused the login of {spec.username!r}: "
                                 f"{exc.smtp_code} {clean_header(_text(exc.smtp_error), 200)}")
    if isinstance(exc, smtplib.SMTPNotSupportedError) and stage == "login":
        if spec.starttls or spec.ssl:
            return MailError("config", f"SMTP {where} offers no login (AUTH): remove digest.smtp.username, "
                                       "or use the server's submission port")
        return MailError("config", f"SMTP {where} offers no login (AUTH) on a plain-text connection, "
                                   "as most servers: set digest.smtp.starttls: true (port 587) or ssl: true (port 465)")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return MailError("tls", f"SMTP {where} does not offer STARTTLS ({clean_header(str(exc), 200)})")
    if isinstance(exc, smtplib.SMTPResponseException):
        code = int(exc.smtp_code)
        what = {smtplib.SMTPSenderRefused: "refused the sender", smtplib.SMTPDataError: "refused the message"}.get(
            type(exc), "answered")
        permanent = 500 <= code < 600
        return MailError("refused" if permanent else "temporary",
                         f"SMTP {where} {what}: {code} {clean_header(_text(exc.smtp_error), 200)}", permanent=permanent)
    if isinstance(exc, (socket.timeout, TimeoutError)) or isinstance(exc.__context__, (socket.timeout, TimeoutError)):
        return MailError("timeout", f"SMTP {where} did not answer within {spec.timeout:g}s")
    if isinstance(exc, ssl.SSLError):
        return MailError("tls", f"TLS with SMTP {where} failed: {clean_header(str(exc), 200)}")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return MailError("network", f"SMTP {where} closed the connection: {clean_header(str(exc), 200)}")
    if isinstance(exc, ConnectionRefusedError):
        return MailError("network", f"cannot connect to SMTP {where}: connection refused")
    if isinstance(exc, OSError):
        return MailError("network", f"cannot reach SMTP {where}: {clean_header(exc.strerror or str(exc), 200)}")
    if isinstance(exc, smtplib.SMTPException):
        return MailError("smtp", f"SMTP {where}: {clean_header(str(exc), 200)}")
    return MailError("smtp", f"SMTP {where}: {type(exc).__name__}: {clean_header(str(exc), 200)}")


# --- the outcome of a digest run ---------------------------------------------------------------


@dataclass
class DigestOutcome:
    """One `listener digest` run: the message, and per recipient what happened."""

    day: dt.date
    message: EmailMessage
    recipients: tuple[str, ...]
    sent: list[str] = field(default_factory=list)
    already_sent: list[str] = field(default_factory=list)
    permanent: list[str] = field(default_factory=list)  # refused for good earlier; --force retries
    in_flight: list[str] = field(default_factory=list)  # another run is sending to them now
    failed: dict[str, str] = field(default_factory=dict)  # recipient -> why, this run
    report_path: str | None = None

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def line(self) -> str:
        """One line for the terminal (and cron's mail)."""
        parts = []
        if self.sent:
            parts.append(f"sent to {', '.join(self.sent)}")
        if self.already_sent:
            parts.append(f"already sent to {', '.join(self.already_sent)} (--force to resend)")
        if self.permanent:
            parts.append(f"not sent to {', '.join(self.permanent)}: refused for good earlier (--force to retry)")
        if self.in_flight:
            parts.append(f"another run is sending to {', '.join(self.in_flight)}")
        if self.failed:
            parts.append("not sent to " + "; ".join(f"{who}: {why}" for who, why in self.failed.items()))
        return f"digest {self.day.isoformat()}: " + ("; ".join(parts) or "nothing to send")
