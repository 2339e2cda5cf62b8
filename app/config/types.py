"""Small parsed value types used by the config: durations, clock times, polygons, sources."""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_HHMM = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")
NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
NODE_ID_PATTERN = r"^[a-z0-9_-]{1,64}$"


def parse_duration(value: Any) -> float:
    """'500ms' | '30s' | '5m' | '1h' → seconds. Bare numbers are refused: the unit matters."""
    if isinstance(value, bool) or not isinstance(value, str):
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(f"write a unit, e.g. '{value}s' (durations look like 500ms, 30s, 5m, 1h)")
        raise ValueError("expected a duration like 500ms, 30s, 5m or 1h")
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"'{value}' is not a duration; write it like 500ms, 30s, 5m or 1h")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def parse_clock(value: Any) -> int:
    """'HH:MM' → minutes since midnight (0..1440; '24:00' is the end of the day)."""
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    match = _HHMM.match(text)
    if not match:
        raise ValueError(f'\'{value}\' is not a time of day; write it as "HH:MM", e.g. "22:00"')
    minutes = int(match.group(1)) * 60 + int(match.group(2))
    if minutes > 24 * 60:
        raise ValueError(f"'{value}' is past 24:00")
    return minutes


def check_polygon(value: Any) -> tuple[tuple[float, float], ...]:
    """A normalized polygon: ≥ 3 [x, y] points in 0..1, non-zero area, not self-crossing."""
    if not isinstance(value, list | tuple) or len(value) < 3:
        raise ValueError("a polygon needs at least 3 points written as [x, y]")
    points: list[tuple[float, float]] = []
    for index, point in enumerate(value):
        if (
            not isinstance(point, list | tuple)
            or len(point) != 2
            or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in point)
        ):
            raise ValueError(f"point {index} must be [x, y] with two numbers")
        x, y = float(point[0]), float(point[1])
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(f"point {index} [{x}, {y}] is outside 0..1 (coordinates are fractions of the frame)")
        points.append((x, y))
    if _self_intersects(points):
        raise ValueError("polygon edges cross each other; list the points in order around the shape")
    area = 0.5 * abs(sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True)))
    if area < 1e-6:
        raise ValueError("polygon has no area (points are repeated or in a line)")
    return tuple(points)


def _self_intersects(points: list[tuple[float, float]]) -> bool:
    def orient(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> float:
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    n = len(points)
    edges = [(points[i], points[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                continue  # neighbours share a vertex
            (a, b), (c, d) = edges[i], edges[j]
            if orient(a, b, c) * orient(a, b, d) < 0 and orient(c, d, a) * orient(c, d, b) < 0:
                return True
    return False


_SOURCE_SCHEMES = ("rtsp", "rtsps", "http", "https")
_VIDEO_DEVICE = re.compile(r"^/dev/video\d+$")


def check_source(value: Any) -> str:
    """Allow only rtsp(s)://, http(s)://, /dev/videoN and file paths. No exec:, no pipes."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a camera URL (rtsp://, rtsps://, http://, https://), /dev/videoN or a video file")
    text = value.strip()
    if _VIDEO_DEVICE.match(text):
        return text
    scheme, sep, _ = text.partition("://")
    if sep:
        if scheme.lower() not in _SOURCE_SCHEMES:
            raise ValueError(f"scheme '{scheme}' is not allowed; use rtsp, rtsps, http or https")
        if not urlsplit(text).hostname:
            raise ValueError("the URL has no host")
        return text
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", text) and not text.startswith("/"):
        raise ValueError(f"'{text.split(':')[0]}:' sources are not allowed; use a URL, /dev/videoN or a file path")
    if text.startswith("/dev/"):
        raise ValueError("only /dev/videoN devices are camera sources")
    return text


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SEPARATORS = re.compile(r"[_-]+")


def check_display_name(value: Any) -> str:
    """A name people read (Home Assistant, the dashboard): 1-64 characters, no control characters."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a name, e.g. Front door")
    text = value.strip()
    if len(text) > 64:
        raise ValueError("a name is at most 64 characters")
    if _CONTROL.search(text):
        raise ValueError("a name cannot contain control characters (tabs, newlines, ...)")
    return text


def readable(ident: str) -> str:
    """An id as a default display name in sentence case: `person_in_garage` → `Person in garage`."""
    words = _SEPARATORS.sub(" ", ident).strip()
    return words[:1].upper() + words[1:] if words else ident


def check_dashboard_url(value: Any) -> str:
    """`http(s)://host[:port][/path]` as users' browsers reach the dashboard; no credentials, query or fragment."""
    if not isinstance(value, str):
        raise ValueError("expected a URL like http://garage-pi.lan:8080/")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL with a host, like http://garage-pi.lan:8080/")
    if "@" in parts.netloc or parts.query or parts.fragment:
        raise ValueError("the dashboard URL takes no user, password, query or fragment")
    try:
        parts.port  # noqa: B018 - raises for a port that is not a number in 0..65535
    except ValueError as exc:
        raise ValueError(f"bad port in the dashboard URL: {exc}") from None
    path = parts.path if parts.path.endswith("/") else f"{parts.path}/"
    return f"{parts.scheme}://{parts.netloc}{path}"


def check_listen(value: Any) -> tuple[str, int]:
    """'host:port' or '[v6]:port' → (ip, port)."""
    if not isinstance(value, str):
        raise ValueError("expected 'address:port', e.g. 0.0.0.0:8080")
    match = re.match(r"^\[(?P<v6>[^\]]+)\]:(?P<port>\d+)$|^(?P<v4>[^:\[\]]+):(?P<port4>\d+)$", value.strip())
    if not match:
        raise ValueError(f"'{value}' is not 'address:port' (IPv6 as [::]:8080)")
    host = match.group("v6") or match.group("v4")
    port = int(match.group("port") or match.group("port4"))
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"'{host}' is not an IP address") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is outside 1..65535")
    return host, port


NAMED_NETWORKS = ("private", "loopback", "link-local")


def check_network(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected 'private', 'loopback', 'link-local' or a CIDR such as 192.168.1.0/24")
    if value in NAMED_NETWORKS:
        return value
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise ValueError(f"'{value}' is neither a CIDR nor one of {', '.join(NAMED_NETWORKS)}") from None


Duration = Annotated[float, BeforeValidator(parse_duration)]
ClockTime = Annotated[int, BeforeValidator(parse_clock)]
Polygon = Annotated[tuple[tuple[float, float], ...], BeforeValidator(check_polygon)]
Source = Annotated[str, BeforeValidator(check_source)]
Listen = Annotated[tuple[str, int], BeforeValidator(check_listen)]
Network = Annotated[str, BeforeValidator(check_network)]
DisplayName = Annotated[str, BeforeValidator(check_display_name)]
DashboardUrl = Annotated[str, BeforeValidator(check_dashboard_url)]


def resolve_zone(name: str | None) -> ZoneInfo:
    """The configured IANA zone, else the system's (/etc/localtime), else UTC."""
    if name:
        return ZoneInfo(name)
    env = os.environ.get("TZ", "").lstrip(":")
    candidates = [env] if env else []
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    for candidate in candidates:
        try:
            return ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")
