"""Feeds that are local files: read with the same size cap, and a 304 by mtime."""

from __future__ import annotations

import logging
import stat
import time
from email.utils import formatdate
from pathlib import Path
from urllib.parse import unquote, urlsplit

from listener.errors import FetchError
from listener.models import FetchLimits, FetchResult

log = logging.getLogger(__name__)


# --- Local files -----------------------------------------------------------------------------


def _is_local(url: str) -> bool:
    return url.startswith("/") or url[:5].lower() == "file:"


def _local_path(url: str) -> Path:
    if url.startswith("/"):
        return Path(url)
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
        raise FetchError("bad_url", f"not a local file URL: {url!r}")
    return Path(unquote(parts.path))


def _fetch_file(url: str, *, last_modified: str | None, limits: FetchLimits) -> FetchResult:
    """Read a local feed with the same size cap as a download. Its mtime, as an HTTP-date,
    is the Last-Modified validator (one-second resolution, like the header)."""
    started = time.monotonic()
    path = _local_path(url)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO or device could block or never end
            raise FetchError("bad_url", f"not a regular file: {path}")
        mtime = formatdate(info.st_mtime, usegmt=True)
        body = None
        if mtime != last_modified:
            with path.open("rb") as file:
                body = file.read(limits.max_bytes + 1)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise FetchError("not_found", f"no such file: {path}") from exc
    except PermissionError as exc:
        raise FetchError("auth", f"permission denied: {path}") from exc
    except OSError as exc:
        raise FetchError("network", f"cannot read {path}: {exc}") from exc
    if body is not None and len(body) > limits.max_bytes:
        raise _too_large(limits.max_bytes, "file")
    return FetchResult(
        url=url,
        status=304 if body is None else 200,
        body=body,
        headers={"last-modified": mtime},
        last_modified=mtime,
        elapsed=time.monotonic() - started,
    )


def _too_large(max_bytes: int, what: str) -> FetchError:
    return FetchError("too_large", f"body is over the {max_bytes} byte cap ({what})")
