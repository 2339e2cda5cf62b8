"""The MQTT connection: the ONLY module that imports paho.

    client = MqttClient(config, client_id=unguessable_id, will=Message(f"{p}/available", b"offline", retain=True),
                        on_connect=republish_everything, on_message=handle_command, subscriptions=[f"{p}/mode/set"])
    client.start()                      # returns at once; connects (and reconnects) in paho's network thread
    client.publish(Message(f"{p}/alerts", body), on_acked=outbox.mark_sent)   # False when not connected
    client.stop()

Delivery contract. `publish` returns True when the message went to paho on the live
connection, and `on_acked` then runs exactly once, in the network thread, when the broker
has the message (QoS 1: its PUBACK; QoS 0: once written to the socket). If the connection
drops first, `on_acked` never runs and paho's own copy is discarded at the next connect:
nothing is resent behind the caller's back, so the caller's durable outbox owns every
retry (it resends from `on_connect`). At-least-once: a PUBACK lost with the connection
means the broker may see a message twice.

Vendor types stay here: callers see `Message`, `Received`, `MqttStatus` and plain callables.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from app.config import MqttConfig


def _socketpair() -> tuple[socket.socket, socket.socket]:
    """What paho's `_socketpair_compat` returns (both ends non-blocking), without a TCP listener.

    paho builds its loop's wake-up pipe from a listener on 127.0.0.1 (a Windows workaround), so at
    each start of its loop the appliance briefly listens on a random loopback port that another
    local process could connect to first. A real socket pair does the same job with no port."""
    one, two = socket.socketpair()
    one.setblocking(False)
    two.setblocking(False)
    return one, two


if hasattr(paho, "_socketpair_compat"):  # paho 2.x internals; without it paho keeps its own way
    paho._socketpair_compat = _socketpair

__all__ = ["Message", "MqttClient", "MqttStatus", "Received"]

log = logging.getLogger(__name__)
_paho_log = logging.getLogger(f"{__name__}.paho")
_LEVELS: dict[int, int] = {int(level): std for level, std in paho.LOGGING_LEVEL.items()}

KEEPALIVE = 30  # s; a silent broker (pulled cable) is noticed within ~1.5x this
RECONNECT_MIN_DELAY = 1  # s; paho doubles it after each failed attempt ...
RECONNECT_MAX_DELAY = 30  # s; ... up to this, and resets it after a successful connect
ACK_WAIT = 5.0  # s; longest an early PUBACK waits for publish() to record its callback (normally µs)
MAX_TOPIC_BYTES = 65535


def _check_topic(topic: str, *, wildcards: bool) -> None:
    """Raise ValueError unless `topic` is a valid MQTT topic name (or filter, with `wildcards`)."""
    kind = "topic filter" if wildcards else "topic"
    if not topic:
        raise ValueError(f"empty MQTT {kind}")
    if "\0" in topic or len(topic.encode()) > MAX_TOPIC_BYTES:
        raise ValueError(f"invalid MQTT {kind} {topic!r}")
    if not wildcards:
        if "+" in topic or "#" in topic:
            raise ValueError(f"MQTT topic {topic!r} has a wildcard (+ or #); only subscriptions may")
        return
    levels = topic.split("/")
    for i, level in enumerate(levels):
        if ("+" in level and level != "+") or ("#" in level and (level != "#" or i != len(levels) - 1)):
            raise ValueError(f"MQTT topic filter {topic!r}: + and # must fill a level, # only the last")


@dataclass(frozen=True, slots=True)
class Message:
    """One outgoing message (also the last will). Validates itself: a bad topic is a bug, found early."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False

    def __post_init__(self) -> None:
        _check_topic(self.topic, wildcards=False)
        if self.qos not in (0, 1, 2):
            raise ValueError(f"MQTT QoS must be 0, 1 or 2, not {self.qos}")
        if not isinstance(self.payload, bytes):
            raise TypeError(f"MQTT payload must be bytes, not {type(self.payload).__name__}")


@dataclass(frozen=True, slots=True)
class Received:
    """One incoming message. `retained`: the broker kept it from before we subscribed (not live)."""

    topic: str
    payload: bytes
    retained: bool


@dataclass(frozen=True, slots=True)
class MqttStatus:
    connected: bool
    error: str | None  # last connect/auth error, human-readable, no secrets; None once connected
    reconnects: int  # times the connection came back after being lost (the first connect is not one)


def _read_password(path: str) -> str:
    """The password file's text without one trailing newline (as `echo pw > file` leaves it)."""
    text = Path(path).read_text(encoding="utf-8")
    for newline in ("\r\n", "\n"):
        if text.endswith(newline):
            return text[: -len(newline)]
    return text


class MqttClient:
    """One connection to the broker, kept up forever with backoff. Thread-safe."""

    def __init__(
        self,
        config: MqttConfig,
        *,
        client_id: str,
        will: Message,
        on_connect: Callable[[], None] | None = None,
        on_message: Callable[[Received], None] | None = None,
        subscriptions: Sequence[str] = (),
    ) -> None:
        for topic in subscriptions:
            _check_topic(topic, wildcards=True)
        self._config = config
        self._client_id = client_id
        self._will = will
        self._on_connect = on_connect
        self._on_message = on_message
        self._subscriptions = tuple(subscriptions)
        self._where = f"{config.host}:{config.port}"
        self._paho: paho.Client | None = None
        # `_cond` guards everything below. Never held while calling paho or a user callback:
        # paho's network thread holds its own locks when it calls us, so holding ours while
        # calling paho could deadlock.
        self._cond = threading.Condition()
        self._connected = False
        self._session = 0  # bumped on every connect and disconnect: mids belong to one connection
        self._pending: dict[int, Callable[[], None] | None] = {}  # mid → on_acked, this connection only
        self._publishing = 0  # publish() calls between paho.publish() and recording their mid
        self._error: str | None = None
        self._connects = 0
        self._local_address: str | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Begin connecting in the background; never raises for a broker that is down or refusing."""
        if self._paho is not None:
            raise RuntimeError("MqttClient already started")
        with self._cond:
            self._error = None  # a new start (perhaps with a fixed password file) earns a fresh verdict
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self._client_id,
            clean_session=True,  # durability is the caller's outbox, not a broker session
            protocol=paho.MQTTv311,
        )
        client.on_log = self._handle_log
        client.suppress_exceptions = True  # belt and braces: our callbacks already catch everything
        client.reconnect_delay_set(min_delay=RECONNECT_MIN_DELAY, max_delay=RECONNECT_MAX_DELAY)
        will = self._will
        client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        if not self._configure_security(client):
            return  # unusable config (the error is in status()); connecting could only fail
        client.on_connect = self._handle_connect
        client.on_connect_fail = self._handle_connect_fail
        client.on_disconnect = self._handle_disconnect
        client.on_publish = self._handle_publish
        client.on_message = self._handle_message
        self._paho = client
        client.connect_async(self._config.host, self._config.port, keepalive=KEEPALIVE)
        client.loop_start()

    def _configure_security(self, client: paho.Client) -> bool:
        """Credentials and TLS from the config; False (status error set) when a file cannot be used."""
        config = self._config
        if config.password_file is not None:
            try:
                password = _read_password(config.password_file)
            except OSError as exc:
                self._fail(f"cannot read mqtt.password_file: {exc}")
                return False
            except UnicodeDecodeError:  # its message would quote a byte of the password
                self._fail(f"cannot read mqtt.password_file: {config.password_file} is not UTF-8 text")
                return False
            if config.username is None:
                log.warning("mqtt.password_file is set but mqtt.username is not: the password is not sent")
            else:
                client.username_pw_set(config.username, password)
        elif config.username is not None:
            client.username_pw_set(config.username)
        if config.tls.ca_file is not None:
            try:  # verifies the broker's certificate and host name against this CA
                client.tls_set(ca_certs=config.tls.ca_file)
            except (OSError, ssl.SSLError, ValueError) as exc:
                self._fail(f"cannot use mqtt.tls.ca_file: {exc}")
                return False
        return True

    def stop(self) -> None:
        """Disconnect cleanly (so the broker discards the will) and join the network thread.

        Publishes nothing: a caller that wants `offline` seen publishes it first.
        """
        was_connected = self.connected
        client, self._paho = self._paho, None
        if client is None:
            return
        if was_connected:  # paho logs an ERROR for a disconnect between reconnect attempts
            client.disconnect()
        client.loop_stop()
        with self._cond:
            self._connected = False
            self._session += 1
            self._pending.clear()
            self._cond.notify_all()

    # -- use ------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        with self._cond:
            return self._connected

    def local_address(self) -> str | None:
        """This box's address on the route to the broker (the hub's LAN), as of the last connect."""
        with self._cond:
            return self._local_address

    def status(self) -> MqttStatus:
        with self._cond:
            return MqttStatus(connected=self._connected, error=self._error, reconnects=max(self._connects - 1, 0))

    def publish(self, message: Message, on_acked: Callable[[], None] | None = None) -> bool:
        """Hand `message` to the live connection; False (nothing queued, `on_acked` never runs) if there is none."""
        client = self._paho
        with self._cond:
            if client is None or not self._connected:
                return False
            session = self._session
            self._publishing += 1
        try:
            # paho may deliver this mid's on_publish before we record it below (QoS 0: the
            # network thread writes the packet while publish() is still returning; QoS 1: the
            # PUBACK is handled as soon as paho releases its lock). _handle_publish waits for us.
            info = client.publish(message.topic, message.payload, qos=message.qos, retain=message.retain)
            with self._cond:
                accepted = info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS and session == self._session
                if accepted:
                    self._pending[info.mid] = on_acked
                # else the connection dropped under us: paho's copy is discarded at the next connect
            return accepted
        finally:
            with self._cond:
                self._publishing -= 1
                self._cond.notify_all()

    # -- paho callbacks (network thread) ------------------------------------------------------

    def _handle_connect(
        self, client: paho.Client, userdata: Any, flags: paho.ConnectFlags, reason: ReasonCode, props: Any
    ) -> None:
        if reason.is_failure:
            self._fail(self._refusal(reason))
            return  # paho closes the socket and retries with backoff
        # Unacked messages of the previous connection would be resent by paho now; the caller's
        # outbox resends them from on_connect instead, so drop paho's copies.
        client.drop_out_messages()
        sock = client.socket()
        local = None
        if isinstance(sock, socket.socket):  # a TLS socket is one too; a websocket wrapper is not
            with contextlib.suppress(OSError):
                local = str(sock.getsockname()[0])
        with self._cond:
            self._local_address = local
            self._connected = True
            self._session += 1
            self._pending.clear()
            self._error = None
            self._connects += 1
            again = self._connects > 1
        log.info("MQTT %s to %s", "reconnected" if again else "connected", self._where)
        if self._subscriptions:  # a clean session forgets subscriptions: renew them on every connect
            client.subscribe([(topic, 1) for topic in self._subscriptions])
        if self._on_connect is not None:
            self._call("on_connect", self._on_connect)

    def _refusal(self, reason: ReasonCode) -> str:
        what = str(reason).lower()
        user = self._config.username
        if reason.value in (134, 135):  # "Bad user name or password", "Not authorized"
            who = f" for user {user!r}" if user is not None else " (no username configured)"
            return f"broker {self._where} refused the login ({what}){who}"
        return f"broker {self._where} refused the connection ({what})"

    def _handle_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        # paho calls this inside its `except OSError`, so the exception is still the current one.
        exc = sys.exception()
        detail = f": {exc}" if exc is not None else ""
        self._fail(f"cannot connect to the broker at {self._where}{detail}")

    def _handle_disconnect(
        self, client: paho.Client, userdata: Any, flags: paho.DisconnectFlags, reason: ReasonCode, props: Any
    ) -> None:
        with self._cond:
            lost = self._connected
            self._connected = False
            self._session += 1
            self._pending.clear()  # their PUBACKs can no longer come: the outbox resends them
            self._cond.notify_all()
            if lost and client is self._paho:
                self._error = f"lost the connection to the broker at {self._where}"
        if lost and client is self._paho:
            log.warning("MQTT connection to %s lost (%s); reconnecting with backoff", self._where, reason)

    def _handle_publish(self, client: paho.Client, userdata: Any, mid: int, reason: ReasonCode, props: Any) -> None:
        with self._cond:
            # A racing publish() may not have recorded this mid yet: wait for it (see publish).
            self._cond.wait_for(lambda: mid in self._pending or self._publishing == 0, timeout=ACK_WAIT)
            if mid not in self._pending:  # a publish() refused as the connection changed under it
                log.debug("MQTT ack for message %d has no publish() on this connection; ignored", mid)
                return
            on_acked = self._pending.pop(mid)
        if on_acked is not None:
            self._call("on_acked", on_acked)

    def _handle_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            log.warning("MQTT message with a topic that is not UTF-8 ignored")
            return
        if self._on_message is not None:
            self._call("on_message", self._on_message, Received(topic, bytes(msg.payload), bool(msg.retain)))

    def _handle_log(self, client: paho.Client, userdata: Any, level: int, text: str) -> None:
        # paho says "Client is not connected" at ERROR whenever its loop turns without a socket:
        # once after our own DISCONNECT (every clean stop) and at each retry while the broker is
        # away. Neither is news: connection trouble is reported once per cause by `_fail`.
        if text.startswith("Client is not connected"):
            level = paho.MQTT_LOG_DEBUG
        _paho_log.log(_LEVELS.get(level, logging.DEBUG), "%s", text)

    # -- helpers --------------------------------------------------------------------------

    def _fail(self, error: str) -> None:
        with self._cond:
            changed = error != self._error
            self._error = error
        # Once per distinct error: retries every few seconds must not flood the log.
        (log.warning if changed else log.debug)("MQTT: %s", error)

    @staticmethod
    def _call(name: str, callback: Callable[..., None], *args: object) -> None:
        """Run a caller's callback; an exception is logged, never allowed to kill the network thread."""
        try:
            callback(*args)
        except Exception:
            log.exception("MQTT %s callback failed", name)
