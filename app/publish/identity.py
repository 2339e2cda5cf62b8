"""How this box names itself over MQTT: its client id at the broker and its dashboard's address.

Client id. A broker drops a connection when another client connects with the same id, so a
predictable id (`edgewatch-<node_id>`) let anyone on the broker knock the box offline at will
and replay retained commands at each reconnect. The id is `edgewatch-<node_id>-<16 hex>`, the
suffix from the OS RNG, made on first start and kept in the store: the same box keeps one id
across restarts, so a restart after a power cut takes over its old, half-open session at once
(its stale last will fires then, not a minute after the new `online`). The id is not logged.

Dashboard URL. `api.url` when set (e.g. behind a reverse proxy); else `http://HOST:PORT/` with
the listen address, or — listening on all interfaces — the address this box reaches the broker
from (the hub's LAN), or its host name when that is loopback (broker on the box). None when the
API listens on loopback only: no browser elsewhere could open it.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import secrets
from typing import Protocol

from app.config import ApiConfig

log = logging.getLogger(__name__)

CLIENT_ID_KEY = "mqtt.client_id"
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")  # a DNS name a browser can open


class StateStore(Protocol):
    def get_state(self, key: str) -> str | None: ...

    def set_state(self, key: str, value: str) -> None: ...


def client_id(store: StateStore, node_id: str) -> str:
    """This box's MQTT client id: kept in the store; a new one (per start) only if it cannot be kept."""
    prefix = f"edgewatch-{node_id}-"
    saved = store.get_state(CLIENT_ID_KEY)
    if saved is not None and saved.startswith(prefix) and len(saved) > len(prefix):
        return saved
    made = prefix + secrets.token_hex(8)
    try:
        store.set_state(CLIENT_ID_KEY, made)
    except Exception:  # noqa: BLE001 - a full disk must not stop MQTT; the id is then per start
        log.warning("mqtt: could not keep the client id; a new one is made at each start until it can")
    return made


def dashboard_url(api: ApiConfig, local_address: str | None, host_name: str) -> str | None:
    """The dashboard's base URL (ending in `/`) as a browser on the LAN opens it; see the module doc."""
    if api.url is not None:
        return api.url
    host, port = api.listen
    listen = ipaddress.ip_address(host)
    if listen.is_loopback:
        return None
    if listen.is_unspecified:
        if local_address is None:
            return None
        host = local_address
        if ipaddress.ip_address(local_address).is_loopback and _usable(host_name):
            host = host_name
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


def _usable(host_name: str) -> bool:
    return host_name.lower() != "localhost" and _HOST_NAME.fullmatch(host_name) is not None
