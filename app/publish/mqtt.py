"""The MQTT connection: the ONLY module that imports paho.

    client = MqttClient(config, client_id=unguessable_id, will=Message(f"{p}/available", b"offline", retain=True),
                        on_connect=republish_everything, on_message=handle_command, subscriptions=[f"{p}/mode/set"])
    client.start()                      # returns at once; connects (and reconnects) in its network thread
    client.publish(Message(f"{p}/alerts", body), on_acked=outbox.acked)   # False when not connected
    client.stop()

Threads, both ours. `mqtt-net` (app.publish.netloop) owns the socket: it drives paho's
external-loop API and reconnects with backoff; paho's `loop_start()` is not used, as it opens a
loopback TCP listener for its wake-up pipe. paho's callbacks run in `mqtt-net` and only update the
connection state and queue an event; `mqtt-events` (app.publish.dispatch) runs the caller's
on_connect, on_message and on_acked from that queue, in order, so a slow store never holds up
keepalive or PUBACKs.

Delivery contract. `publish` returns True when the message went to paho on the live
connection, and `on_acked` then runs exactly once, in the event thread, when the broker has the
message (QoS 1: its PUBACK; QoS 0: once written to the socket). If the connection drops first,
`on_acked` never runs and paho's own copy is discarded at the next connect: nothing is resent
behind the caller's back, so the caller's durable outbox owns every retry. At-least-once: a
PUBACK lost with the connection means the broker may see a message twice.

A connection is usable by `publish` as soon as it is up (so on_connect can publish on it);
`connected` turns True once its on_connect has returned; `connection` numbers it from the moment
the event thread reaches its on_connect, when every ack of earlier connections has been handed over.

Vendor types stay here: callers see `Message`, `Received`, `MqttStatus` and plain callables.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from app.config import MqttConfig
from app.publish.dispatch import Dispatcher
from app.publish.messages import Message, MqttStatus, Received, check_topic
from app.publish.netloop import NetworkLoop

__all__ = ["Message", "MqttClient", "MqttStatus", "Received"]

log = logging.getLogger(__name__)
_paho_log = logging.getLogger(f"{__name__}.paho")
_LEVELS: dict[int, int] = {int(level): std for level, std in paho.LOGGING_LEVEL.items()}

KEEPALIVE = 30  # s; a silent broker (pulled cable) is noticed within ~1.5x this
ACK_WAIT = 5.0  # s; longest an early ack waits for publish() to record its callback (normally µs)
CALLBACK_WAIT = 10.0  # s; longest stop() waits for a running callback before leaving it behind


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
            check_topic(topic, wildcards=True)
        self._config = config
        self._client_id = client_id
        self._will = will
        self._on_connect = on_connect
        self._on_message = on_message
        self._subscriptions = tuple(subscriptions)
        self._where = f"{config.host}:{config.port}"
        self._paho: paho.Client | None = None
        self._net: NetworkLoop | None = None
        self._events = Dispatcher("mqtt-events")
        # `_cond` guards everything below. Never held while calling paho or a user callback:
        # paho holds its own locks when it calls us, so holding ours while calling paho could deadlock.
        self._cond = threading.Condition()
        self._connected = False
        self._session = 0  # bumped on every connect and disconnect: mids belong to one connection
        self._reached = -1  # the session whose on_connect the event thread has reached ...
        self._announced = -1  # ... and returned from
        # (session, mid) → on_acked. A lost connection's entries are dropped by a job queued after
        # its acks (`_forget`), so an ack that came in before the loss still runs.
        self._pending: dict[tuple[int, int], Callable[[], None] | None] = {}
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
        will = self._will
        client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        if not self._configure_security(client):
            return  # unusable config (the error is in status()); connecting could only fail
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_publish = self._handle_publish
        client.on_message = self._handle_message
        # Set, paho never writes from the publishing thread: packets wait for `mqtt-net`, woken here.
        client.on_socket_register_write = lambda _client, _userdata, _sock: self._wake()
        client.connect_async(self._config.host, self._config.port, keepalive=KEEPALIVE)
        self._events = Dispatcher("mqtt-events")
        self._events.start()
        self._net = NetworkLoop(
            client,
            on_connect_error=lambda exc: self._fail(f"cannot connect to the broker at {self._where}: {exc}"),
            on_closed=lambda: self._lost(client),  # paho may close a dead socket without on_disconnect
        )
        self._paho = client
        self._net.start()

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
        """Disconnect cleanly (so the broker discards the will), end the network thread, then run
        the events already queued (acks that arrived) and end the event thread.

        Publishes nothing: a caller that wants `offline` seen publishes it first.
        """
        client, self._paho = self._paho, None
        if client is None:
            return
        with self._cond:
            was_connected = self._connected
        if was_connected:  # queued before the loop's stop, which writes it before leaving
            client.disconnect()
        if self._net is not None:
            self._net.stop()
        self._events.stop(CALLBACK_WAIT)  # the acks that came in run first
        with self._cond:
            self._connected = False
            self._session += 1
            self._pending.clear()
            self._cond.notify_all()

    # -- use ------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Up, and its on_connect has returned."""
        with self._cond:
            return self._connected and self._announced == self._session

    @property
    def connection(self) -> int | None:
        """The live connection's number, once the event thread has reached its on_connect (every
        ack of an earlier connection has run by then); None otherwise."""
        with self._cond:
            return self._session if self._connected and self._reached == self._session else None

    def local_address(self) -> str | None:
        """This box's address on the route to the broker (the hub's LAN), as of the last connect."""
        with self._cond:
            return self._local_address

    def status(self) -> MqttStatus:
        connected = self.connected
        with self._cond:
            return MqttStatus(connected=connected, error=self._error, reconnects=max(self._connects - 1, 0))

    def publish(
        self, message: Message, on_acked: Callable[[], None] | None = None, *, connection: int | None = None
    ) -> bool:
        """Hand `message` to the live connection (only if it is number `connection`, when given);
        False (nothing queued, `on_acked` never runs) if there is none."""
        client = self._paho
        with self._cond:
            if client is None or not self._connected or connection not in (None, self._session):
                return False
            session = self._session
            self._publishing += 1
        try:
            # paho may deliver this mid's ack before we record it below (the network thread writes
            # the packet while publish() is still returning); the event thread waits for us (`_acked`).
            info = client.publish(message.topic, message.payload, qos=message.qos, retain=message.retain)
            self._wake()
            with self._cond:
                accepted = info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS and session == self._session
                if accepted:
                    self._pending[(session, info.mid)] = on_acked
                # else the connection dropped under us: paho's copy is discarded at the next connect
            return accepted
        finally:
            with self._cond:
                self._publishing -= 1
                self._cond.notify_all()

    # -- paho callbacks (network thread): state and a queued event, nothing that waits ------

    def _handle_connect(
        self, client: paho.Client, _userdata: Any, _flags: paho.ConnectFlags, reason: ReasonCode, _props: Any
    ) -> None:
        if reason.is_failure:
            self._fail(self._refusal(reason))
            return  # paho closes the socket; the network loop retries with backoff
        # Unacked messages of the previous connection would be resent by paho now; the caller's
        # outbox resends them instead, so drop paho's copies.
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
            self._error = None
            self._connects += 1
            again = self._connects > 1
            session = self._session
        if self._net is not None:
            self._net.accepted()
        log.info("MQTT %s to %s", "reconnected" if again else "connected", self._where)
        self._events.put(functools.partial(self._announce, client, session))

    def _refusal(self, reason: ReasonCode) -> str:
        what = str(reason).lower()
        user = self._config.username
        if reason.value in (134, 135):  # "Bad user name or password", "Not authorized"
            who = f" for user {user!r}" if user is not None else " (no username configured)"
            return f"broker {self._where} refused the login ({what}){who}"
        return f"broker {self._where} refused the connection ({what})"

    def _handle_disconnect(
        self, client: paho.Client, _userdata: Any, _flags: paho.DisconnectFlags, reason: ReasonCode, _props: Any
    ) -> None:
        self._lost(client, reason)

    def _lost(self, client: paho.Client, reason: object = "closed") -> None:
        ours = client is self._paho  # not a stop()
        with self._cond:
            lost, session = self._connected, self._session
            self._connected = False
            self._session += lost
            if lost and ours:
                self._error = f"lost the connection to the broker at {self._where}"
        if lost:  # queued after the acks that came in before the loss: those still run
            self._events.put(functools.partial(self._forget, session))
        if lost and ours:
            log.warning("MQTT connection to %s lost (%s); reconnecting with backoff", self._where, reason)

    def _handle_publish(self, _client: paho.Client, _userdata: Any, mid: int, _reason: ReasonCode, _props: Any) -> None:
        with self._cond:
            session = self._session
        self._events.put(functools.partial(self._acked, session, mid))

    def _handle_message(self, _client: paho.Client, _userdata: Any, msg: paho.MQTTMessage) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            log.warning("MQTT message with a topic that is not UTF-8 ignored")
            return
        if self._on_message is not None:
            received = Received(topic, bytes(msg.payload), bool(msg.retain))
            self._events.put_message(functools.partial(self._call, "on_message", self._on_message, received))

    def _handle_log(self, _client: paho.Client, _userdata: Any, level: int, text: str) -> None:
        _paho_log.log(_LEVELS.get(level, logging.DEBUG), "%s", text)

    # -- events (event thread): where the caller's callbacks run --------------------------------

    def _announce(self, client: paho.Client, session: int) -> None:
        with self._cond:
            if session != self._session:
                return  # lost again already; the next connect announces itself
            self._reached = session
        if self._subscriptions:  # a clean session forgets subscriptions: renew them on every connect
            client.subscribe([(topic, 1) for topic in self._subscriptions])
            self._wake()
        if self._on_connect is not None:
            self._call("on_connect", self._on_connect)
        with self._cond:
            self._announced = session

    def _acked(self, session: int, mid: int) -> None:
        with self._cond:
            # A racing publish() may not have recorded this mid yet: wait for it (see publish).
            key = (session, mid)
            self._cond.wait_for(lambda: key in self._pending or self._publishing == 0, timeout=ACK_WAIT)
            if key not in self._pending:  # a publish() refused as the connection changed under it
                log.debug("MQTT ack for message %d has no publish() on this connection; ignored", mid)
                return
            on_acked = self._pending.pop(key)
        if on_acked is not None:
            self._call("on_acked", on_acked)

    def _forget(self, session: int) -> None:
        """A lost connection's unacked messages: their acks can no longer come (the outbox resends them)."""
        with self._cond:
            for key in [key for key in self._pending if key[0] == session]:
                del self._pending[key]

    # -- helpers --------------------------------------------------------------------------

    def _wake(self) -> None:
        if self._net is not None:
            self._net.wake()

    def _fail(self, error: str) -> None:
        with self._cond:
            changed = error != self._error
            self._error = error
        # Once per distinct error: retries every few seconds must not flood the log.
        (log.warning if changed else log.debug)("MQTT: %s", error)

    @staticmethod
    def _call(name: str, callback: Callable[..., None], *args: object) -> None:
        """Run a caller's callback; an exception is logged, never allowed to end the event thread."""
        try:
            callback(*args)
        except Exception:
            log.exception("MQTT %s callback failed", name)
