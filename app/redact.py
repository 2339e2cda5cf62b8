"""Secrets out of everything people read: camera URLs, and messages that may echo them.

The one place that decides what a secret in a camera source looks like. Used for logs,
camera health (API, MQTT), `edgewatch doctor` and config errors.

- userinfo: everything up to the LAST `@` after `scheme://` is userinfo, even when it holds
  an unencoded `/`, `?`, `#` or `@` (`rtsp://admin:pa#ss/w?rd@10.0.0.5/s`). The user name
  stays for diagnosis; the password becomes `***`. A URL whose path or query holds an `@`
  therefore loses its host to the mask too: over-redacting is the price of never leaking.
- query (and fragment) parameters whose name looks like a secret (pass, pwd, token, key,
  auth, secret, sig, cred; case-insensitive, also inside longer names such as `api_key`):
  the value up to the next `&` becomes `***`. A `;`-separated parameter counts too.

Pure string work, no URL parser: malformed URLs (bad IPv6 brackets, ports out of range)
are redacted like any other, and nothing here raises.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import unquote

MASK = "***"
# Parts of a parameter name that make its value a secret ('api_key', 'X-Auth-Token', 'passwd').
SECRET_KEY_PARTS = ("pass", "pwd", "secret", "token", "key", "auth", "sig", "cred")
# Shorter secrets are not scrubbed from free text: replacing "1" would garble every number.
MIN_SCRUB_LENGTH = 4

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
_AUTHORITY_END = "/?#"

log = logging.getLogger(__name__)


def redact_url(url: str) -> str:
    """`url` with its password and secret parameter values replaced by `***`; anything that is
    not a `scheme://` URL (a file, /dev/videoN) comes back as it is."""
    try:
        return _redact(url)
    except Exception:
        log.exception("redact_url failed; the URL is hidden entirely")
        return MASK


def url_secrets(url: str) -> list[str]:
    """The secret substrings of `url` as written and percent-decoded: the password and the
    values of secret parameters. For scrubbing free text that may quote them in any form."""
    try:
        found = _secrets(url)
    except Exception:
        log.exception("url_secrets failed")
        return []
    return sorted({form for value in found for form in (value, unquote(value)) if form}, key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every occurrence of each secret (longest first) replaced by `***`."""
    for value in sorted({s for s in secrets if len(s) >= MIN_SCRUB_LENGTH}, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


def redact_text(text: str, *sources: str) -> str:
    """A message that may echo a source (an OpenCV or FFmpeg error): every URL in it redacted,
    then every secret of `sources` scrubbed wherever it still appears."""
    redacted = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
    return scrub(redacted, [s for source in sources for s in url_secrets(source)])


def describe_error(exc: BaseException, *sources: str, limit: int = 200) -> str:
    """A library's exception (OpenCV, FFmpeg) as one short line for a log or a health report:
    its type and first line, with `sources` and any URL in it redacted."""
    lines = str(exc).strip().splitlines()
    first = redact_text(lines[0], *sources) if lines else ""
    text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- where the secrets of a URL are -----------------------------------------------------------
# Both rules work on the URL as written and mark character ranges; the union is masked. So a
# query value that holds an '@' (which the userinfo rule reads as the end of the userinfo) is
# still masked whole.


def _redact(url: str) -> str:
    out, last = [], 0
    for begin, end in _secret_ranges(url):
        out += [url[last:begin], MASK]
        last = end
    return "".join([*out, url[last:]])


def _secrets(url: str) -> list[str]:
    """Each secret apart (the password, each value), for finding them alone in free text. As
    an '@' may end the password or belong to it, each '@' in the password range ends one more
    candidate: scrubbing too much is harmless, too little is a leak."""
    found: list[str] = []
    for begin, end in _secret_ranges(url, merge=False):
        found.append(url[begin:end])
        found += [url[begin:at] for at in range(begin, end) if url[at] == "@"]
    return found


def _secret_ranges(url: str, *, merge: bool = True) -> list[tuple[int, int]]:
    """[begin, end) ranges of `url` to hide (sorted and merged unless `merge` is False); none
    for a non-URL."""
    scheme = _SCHEME.match(url)
    if scheme is None:
        return []
    base = scheme.end()
    rest = url[base:]
    ranges: list[tuple[int, int]] = []
    at = rest.rfind("@")
    if at >= 0:
        user, colon, _ = rest[:at].partition(":")
        if any(c in user for c in _AUTHORITY_END):  # no telling the user from a path: hide it all
            ranges.append((base, base + at))
        elif colon:
            ranges.append((base + len(user) + 1, base + at))
    # Parameters may start after any '?' or '#' (one may belong to the password, a fragment may
    # carry a token), and run to the end: a '#' in a secret value must not cut its mask short.
    for start in (i + 1 for i, ch in enumerate(rest) if ch in "?#"):
        offset = base + start
        for piece in rest[start:].split("&"):
            value = _secret_value_start(piece)
            if value is not None:
                ranges.append((offset + value, offset + len(piece)))
            offset += len(piece) + 1
    ranges = [r for r in ranges if r[1] > r[0]]
    return _merge(ranges) if merge else ranges


def _secret_value_start(piece: str) -> int | None:
    """In `name=value` or `a=b;name=value`: where the value of the first secret name starts
    (it runs to the end of the piece), or None."""
    offset = 0
    for part in piece.split(";"):
        name, equals, _ = part.partition("=")
        if equals and _is_secret_name(name):
            return offset + len(name) + 1
        offset += len(part) + 1
    return None


def _is_secret_name(name: str) -> bool:
    normalized = re.sub(r"[^a-z0-9]", "", unquote(name).lower())
    return any(part in normalized for part in SECRET_KEY_PARTS)


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for begin, end in sorted(ranges):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return merged
