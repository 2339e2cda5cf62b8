"""MqttClient against a real Debian mosquitto: acks, last will, outages, auth + ACL, TLS, callbacks.

The broker is a real process (tests.support.mosquitto); the "hub" on the other side is a plain
paho client (`Watcher`). Outages are real: the broker is stopped, frozen (SIGSTOP: connection
open, nothing answered) or killed, then started again on the same port.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from app.config import MqttConfig
from app.config.schema import TlsConfig
from app.publish.mqtt import Message, MqttClient, Received
from tests.support.mosquitto import Mosquitto
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
T = "edgewatch/t"  # topic prefix used by these tests

Broker = Callable[..., Mosquitto]


class Watcher:
    """A plain paho client on the hub's side: subscribes and records what arrives (with retain flags)."""

    def __init__(
        self,
        broker: Mosquitto,
        topics: Sequence[str] = (f"{T}/#",),
        *,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self._cond = threading.Condition()
        self.messages: list[tuple[str, bytes, bool]] = []
        self._subscribed = threading.Event()
        self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"watcher-{id(self):x}")
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *_args: self._subscribed.set()
        assert broker.port is not None
        self._client.connect(broker.host, broker.port)
        self._client.loop_start()
        self._client.subscribe([(topic, 1) for topic in topics])
        if not self._subscribed.wait(5):
            self.close()
            raise TimeoutError("watcher: no SUBACK from the broker")

    def _on_message(self, _client: paho.Client, _userdata: object, msg: paho.MQTTMessage) -> None:
        with self._cond:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))
            self._cond.notify_all()

    def wait_for(self, topic: str, payload: bytes, timeout: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: any(m[:2] == (topic, payload) for m in self.messages), timeout)

    def payloads(self, topic: str) -> list[bytes]:
        with self._cond:
            return [payload for t, payload, _ in self.messages if t == topic]

    def retained(self) -> dict[str, bytes]:
        with self._cond:
            return {t: payload for t, payload, retain in self.messages if retain}

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self._client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> Watcher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def retained_now(broker: Mosquitto, topic: str, **kwargs: str) -> dict[str, bytes]:
    """The retained messages a hub connecting now receives under `topic` (a filter).

    The broker queues a subscription's retained messages as it handles the SUBSCRIBE; a QoS 1 marker
    published after the SUBACK is queued behind them, so once it is here they all are."""
    marker = f"{T}-marker/{uuid.uuid4().hex}"
    with Watcher(broker, [topic, marker], **kwargs) as fresh:
        fresh.publish(marker, b"end")
        assert fresh.wait_for(marker, b"end", 15), f"the marker after the retained messages of {topic} never came"
        return fresh.retained()


class Acks:
    """Counts `on_acked` calls per message key, thread-safely."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def callback(self, key: str) -> Callable[[], None]:
        def acked() -> None:
            with self._lock:
                self.counts[key] += 1

        return acked

    def __getitem__(self, key: str) -> int:
        with self._lock:
            return self.counts[key]


class Probe:
    """An MqttClient under test plus what its on_connect / on_message saw."""

    def __init__(
        self,
        port: int,
        *,
        client_id: str = "edgewatch-test",
        subscriptions: Sequence[str] = (),
        username: str | None = None,
        password_file: Path | None = None,
        ca_file: Path | None = None,
        host: str = HOST,
        on_connect: Callable[[], None] | None = None,
        on_message: Callable[[Received], None] | None = None,
    ) -> None:
        self.connects = 0
        self.messages: list[tuple[str, bytes]] = []
        self.retained: list[bool] = []
        self._on_connect = on_connect
        self._on_message = on_message
        config = MqttConfig(
            host=host,
            port=port,
            username=username,
            password_file=None if password_file is None else str(password_file),
            tls=TlsConfig(ca_file=None if ca_file is None else str(ca_file)),
        )
        self.client = MqttClient(
            config,
            client_id=client_id,
            will=Message(f"{T}/available", b"offline", retain=True),
            on_connect=self._connected,
            on_message=self._message,
            subscriptions=subscriptions,
        )

    def _connected(self) -> None:
        self.connects += 1
        if self._on_connect is not None:
            self._on_connect()

    def _message(self, message: Received) -> None:
        self.messages.append((message.topic, message.payload))
        self.retained.append(message.retained)
        if self._on_message is not None:
            self._on_message(message)

    def started(self) -> Probe:
        self.client.start()
        return self

    def wait_connected(self, timeout: float = 5.0) -> None:
        assert wait_until(lambda: self.client.connected, timeout), f"not connected: {self.client.status()}"


@pytest.fixture
def probes() -> Iterator[Callable[..., Probe]]:
    made: list[Probe] = []

    def make(port: int, **kwargs: Any) -> Probe:
        probe = Probe(port, **kwargs)
        made.append(probe)
        return probe

    yield make
    for probe in made:
        probe.client.stop()


# -- publishing -------------------------------------------------------------------------------


def test_qos1_reaches_the_broker_and_is_acked_once_only_after_the_broker_has_it(
    mosquitto_broker: Broker, probes: Callable[..., Probe]
) -> None:
    broker = mosquitto_broker()
    acks = Acks()
    with Watcher(broker) as hub:
        probe = probes(broker.port).started()
        probe.wait_connected()
        assert probe.client.publish(Message(f"{T}/state", b"kept", retain=True), acks.callback("retained"))
        assert probe.client.publish(Message(f"{T}/alert", b"once"), acks.callback("plain"))
        assert hub.wait_for(f"{T}/state", b"kept")
        assert hub.wait_for(f"{T}/alert", b"once")
        assert wait_until(lambda: acks["retained"] == 1 and acks["plain"] == 1)

        # A frozen broker reads nothing and acks nothing: on_acked must wait for the real PUBACK.
        broker.freeze()
        assert probe.client.publish(Message(f"{T}/alert", b"while frozen"), acks.callback("frozen"))
        # Kept: a stopped broker sends nothing, so no event can mark "the client has had its chance".
        # A wrong ack would be the client's own doing, right after the write: 0.5 s covers that.
        time.sleep(0.5)
        assert acks["frozen"] == 0
        assert hub.payloads(f"{T}/alert") == [b"once"]
        broker.thaw()
        assert hub.wait_for(f"{T}/alert", b"while frozen")
        assert wait_until(lambda: acks["frozen"] == 1)

    # A hub connecting later gets the retained state (flagged retained), not the plain alert.
    assert retained_now(broker, f"{T}/#") == {f"{T}/state": b"kept"}
    assert acks.counts == {"retained": 1, "plain": 1, "frozen": 1}  # exactly once each, even later


def test_concurrent_publishes_from_threads_are_each_acked_exactly_once(
    mosquitto_broker: Broker, probes: Callable[..., Probe]
) -> None:
    # QoS 0 acks often arrive before paho's publish() has even returned (~1 % here, more under
    # load); a client that looked the mid up without waiting would lose those callbacks.
    broker = mosquitto_broker()
    acks = Acks()
    threads_n, per_thread = 4, 60
    with Watcher(broker) as hub:
        probe = probes(broker.port).started()
        probe.wait_connected()

        def send(t: int) -> None:
            for i in range(per_thread):
                key = f"{t}-{i}"
                message = Message(f"{T}/load/{t}", key.encode(), qos=i % 2)
                assert probe.client.publish(message, acks.callback(key))

        threads = [threading.Thread(target=send, args=(t,)) for t in range(threads_n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        keys = {f"{t}-{i}" for t in range(threads_n) for i in range(per_thread)}
        assert wait_until(lambda: set(acks.counts) == keys, timeout=10), len(acks.counts)
        assert wait_until(lambda: sum(len(hub.payloads(f"{T}/load/{t}")) for t in range(threads_n)) == len(keys))
        for t in range(threads_n):
            got = hub.payloads(f"{T}/load/{t}")
            assert sorted(got) == sorted(f"{t}-{i}".encode() for i in range(per_thread))  # each once
            # MQTT orders per QoS only: QoS 0 overtakes QoS 1 waiting for an in-flight slot.
            qos1 = [f"{t}-{i}".encode() for i in range(1, per_thread, 2)]
            assert [p for p in got if p in qos1] == qos1
        # A QoS 1 marker sent after them all: the broker acks in order, so once its PUBACK is
        # here every ack (and any duplicate) for the messages before it has been delivered too.
        assert probe.client.publish(Message(f"{T}/load/marker", b"last"), acks.callback("marker"))
        assert wait_until(lambda: acks["marker"] == 1, 10), acks.counts
    assert set(acks.counts.values()) == {1}


def test_an_unacked_message_is_not_resent_by_paho_after_a_reconnect(
    mosquitto_broker: Broker, probes: Callable[..., Probe]
) -> None:
    # The caller's outbox owns retries: paho's copy of a message that was never acked must not
    # reappear on the next connection (it would duplicate the outbox's own resend).
    broker = mosquitto_broker()
    acks = Acks()
    probe = probes(broker.port).started()
    probe.wait_connected()
    broker.freeze()
    assert probe.client.publish(Message(f"{T}/ghost", b"never acked", retain=True), acks.callback("ghost"))
    broker.kill()  # the frozen broker dies with the PUBLISH unread
    assert wait_until(lambda: not probe.client.connected)
    broker.start()
    probe.wait_connected(timeout=5)
    assert probe.client.publish(Message(f"{T}/marker", b"after", retain=True), acks.callback("marker"))
    assert wait_until(lambda: acks["marker"] == 1)
    # paho would have resent the ghost before anything published in on_connect or later.
    assert retained_now(broker, f"{T}/#") == {f"{T}/marker": b"after"}
    assert acks["ghost"] == 0


def test_invalid_messages_and_filters_are_refused_early() -> None:
    with pytest.raises(ValueError, match="wildcard"):
        Message(f"{T}/+/x", b"")
    with pytest.raises(ValueError, match="empty"):
        Message("", b"")
    with pytest.raises(ValueError, match="QoS"):
        Message(f"{T}/x", b"", qos=3)
    config = MqttConfig(host=HOST)
    will = Message(f"{T}/available", b"offline", retain=True)
    with pytest.raises(ValueError, match="fill a level"):
        MqttClient(config, client_id="x", will=will, subscriptions=[f"{T}/a#"])
    assert MqttClient(config, client_id="x", will=will).publish(will) is False  # never started


# -- last will ----------------------------------------------------------------------------------

CHILD = """
import sys, threading
from app.config import MqttConfig
from app.publish import Message, MqttClient

acked = threading.Event()
topic = "edgewatch/t/available"
client = MqttClient(
    MqttConfig(host="127.0.0.1", port=int(sys.argv[1])),
    client_id="will-child",
    will=Message(topic, b"offline", retain=True),
    on_connect=lambda: client.publish(Message(topic, b"online", retain=True), on_acked=acked.set),
)
client.start()
sys.exit(0 if acked.wait(10) and threading.Event().wait() else 3)
"""


def test_last_will_fires_when_the_process_dies_but_not_on_a_clean_stop(
    mosquitto_broker: Broker, probes: Callable[..., Probe], tmp_path: Path
) -> None:
    broker = mosquitto_broker()
    with Watcher(broker, [f"{T}/available"]) as hub, (tmp_path / "child.log").open("wb") as child_log:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(broker.port)], cwd=ROOT, stdout=child_log, stderr=child_log
        )
        try:
            assert hub.wait_for(f"{T}/available", b"online", timeout=15), (tmp_path / "child.log").read_text()
            child.kill()  # SIGKILL: no DISCONNECT, the kernel just closes the socket
            child.wait(5)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(5)
        assert hub.wait_for(f"{T}/available", b"offline")
    assert retained_now(broker, f"{T}/available") == {f"{T}/available": b"offline"}

    # A clean stop() sends DISCONNECT: the broker discards the will and `online` stays.
    acks = Acks()
    probe = probes(broker.port, client_id="will-clean").started()
    probe.wait_connected()
    assert probe.client.publish(Message(f"{T}/available", b"online", retain=True), acks.callback("online"))
    assert wait_until(lambda: acks["online"] == 1)
    probe.client.stop()
    assert not probe.client.connected
    assert wait_until(lambda: "Client will-clean disconnected." in broker.log()), broker.log()[-2000:]
    assert retained_now(broker, f"{T}/available") == {f"{T}/available": b"online"}


# -- outages --------------------------------------------------------------------------------------


def test_broker_down_at_start_then_up_connects_within_the_backoff(
    mosquitto_broker: Broker, probes: Callable[..., Probe]
) -> None:
    broker = mosquitto_broker(start=False)
    probe = probes(broker.port)
    began = time.monotonic()
    probe.client.start()
    # Non-blocking; generous for a loaded box, yet under paho's first 1 s backoff wait.
    assert time.monotonic() - began < 1.0
    assert not probe.client.connected
    assert wait_until(lambda: probe.client.status().error is not None, timeout=2)
    error = probe.client.status().error
    assert error is not None
    assert f"cannot connect to the broker at {HOST}:{broker.port}" in error
    assert "refused" in error.lower()
    assert probe.client.publish(Message(f"{T}/x", b"")) is False

    broker.start()
    up = time.monotonic() - began
    probe.wait_connected(timeout=5)
    # Attempts at 0 s, then 1 s, 3 s, 7 s, ... (paho's backoff, doubling from 1 s; paho's own
    # loop_start() skipped the 1 s one): the first attempt after the broker came up connects.
    took, attempts = time.monotonic() - began, (1.0, 3.0, 7.0)
    # 1.5 s of slack for a loaded box's connect; the attempts' windows still do not overlap.
    assert any(at - 0.5 < took < at + 1.5 for at in attempts), (up, took)  # on the schedule ...
    assert took < min(at for at in attempts if at >= up) + 1.5, (up, took)  # ... at the first chance
    assert probe.connects == 1
    status = probe.client.status()
    assert (status.connected, status.error, status.reconnects) == (True, None, 0)


def test_broker_outage_while_connected_then_back_reconnects_and_resubscribes(
    mosquitto_broker: Broker, probes: Callable[..., Probe]
) -> None:
    broker = mosquitto_broker()
    acks = Acks()
    probe = probes(broker.port, subscriptions=[f"{T}/cmd"]).started()
    probe.wait_connected()
    assert probe.connects == 1

    broker.stop()
    down = time.monotonic()
    assert wait_until(lambda: not probe.client.connected, timeout=3)
    assert time.monotonic() - down < 3
    assert "lost the connection" in (probe.client.status().error or "")
    assert probe.client.publish(Message(f"{T}/alert", b"during outage"), acks.callback("outage")) is False

    broker.start()  # same port, empty broker (no persistence)
    probe.wait_connected(timeout=5)
    assert wait_until(lambda: probe.connects == 2)
    status = probe.client.status()
    assert (status.connected, status.error, status.reconnects) == (True, None, 1)
    with Watcher(broker) as hub:  # the subscription was renewed on the new (clean) session
        hub.publish(f"{T}/cmd", b"after outage")
        assert wait_until(lambda: (f"{T}/cmd", b"after outage") in probe.messages)
    assert acks["outage"] == 0  # a refused publish never acks, not even after the reconnect


# -- authentication, ACL ------------------------------------------------------------------------

ACL = """user edge
topic readwrite edgewatch/#

user watcher
topic read #
"""


def test_refused_login_is_reported_retried_and_fixed_by_a_restart_then_acl_drops_silently(
    mosquitto_broker: Broker, probes: Callable[..., Probe], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    broker = mosquitto_broker(users={"edge": "right-pw-123", "watcher": "watch-pw-456"}, acl=ACL)
    secret = tmp_path / "mqtt-password"
    secret.write_text("wrong-pw-789\n")
    probe = probes(broker.port, username="edge", password_file=secret).started()

    assert wait_until(lambda: "refused the login" in (probe.client.status().error or ""), timeout=3)
    error = probe.client.status().error or ""
    assert "not authorized" in error
    assert "'edge'" in error
    # paho keeps retrying with backoff after a refusal: attempts at ~0 s, 1 s, 3 s.
    assert wait_until(lambda: broker.log().count("disconnected, not authorised") >= 2, timeout=4.5), broker.log()
    assert not probe.client.connected
    assert probe.connects == 0

    # The password file is read at start(): fix it and restart the client.
    probe.client.stop()
    secret.write_text("right-pw-123\n")  # one trailing newline is not part of the password
    acks = Acks()
    with Watcher(broker, ["#"], username="watcher", password="watch-pw-456") as hub:
        probe.client.start()
        probe.wait_connected()
        assert probe.client.status().error is None
        # Mosquitto acks a publish its ACL forbids (MQTT 3.1.1 cannot say no) and drops it.
        assert probe.client.publish(Message("other/secret", b"denied"), acks.callback("denied"))
        assert probe.client.publish(Message(f"{T}/ok", b"allowed"), acks.callback("allowed"))
        assert hub.wait_for(f"{T}/ok", b"allowed")
        assert wait_until(lambda: acks["denied"] == 1 and acks["allowed"] == 1)
        # The broker handles one client's packets in order: had it routed the denied message,
        # the hub would have received it before the allowed one.
        assert hub.payloads("other/secret") == []

    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    for password in ("wrong-pw-789", "right-pw-123"):
        assert password not in logged
        assert password not in error


def test_unreadable_password_file_is_a_status_error_not_a_crash(
    mosquitto_broker: Broker, probes: Callable[..., Probe], tmp_path: Path
) -> None:
    broker = mosquitto_broker()
    probe = probes(broker.port, username="edge", password_file=tmp_path / "missing").started()
    error = probe.client.status().error or ""
    assert error.startswith("cannot read mqtt.password_file:")
    assert "missing" in error
    binary = tmp_path / "binary"
    binary.write_bytes(b"pw\xff\xfe")
    other = probes(broker.port, client_id="binary", username="edge", password_file=binary).started()
    assert other.client.status().error == f"cannot read mqtt.password_file: {binary} is not UTF-8 text"
    # A client that connects after them: once the broker has logged it, it has logged anything before.
    with Watcher(broker):
        assert wait_until(lambda: " as watcher-" in broker.log(), 10), broker.log()
    assert not probe.client.connected
    assert not other.client.connected
    connects = [line for line in broker.log().splitlines() if "New client connected" in line]
    assert len(connects) == 1, connects
    assert " as watcher-" in connects[0], connects  # only the marker: neither probe ever reached the broker


# -- TLS ------------------------------------------------------------------------------------------


EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)


def make_ca(folder: Path, name: str) -> tuple[Path, Path]:
    key, cert = folder / f"{name}.key", folder / f"{name}.crt"
    _openssl("req", "-x509", *EC_KEY, "-days", "2", "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert))
    return key, cert


def test_tls_verifies_the_broker_against_the_configured_ca(
    mosquitto_broker: Broker, probes: Callable[..., Probe], tmp_path: Path
) -> None:
    ca_key, ca_cert = make_ca(tmp_path, "test-ca")
    _, other_ca = make_ca(tmp_path, "other-ca")
    key, csr, cert, ext = (tmp_path / f"server.{suffix}" for suffix in ("key", "csr", "crt", "ext"))
    ext.write_text(f"subjectAltName=IP:{HOST}\n")  # the client checks the host name (here an IP)
    _openssl("req", *EC_KEY, "-subj", "/CN=broker", "-keyout", str(key), "-out", str(csr))
    ca = ["-CA", str(ca_cert), "-CAkey", str(ca_key), "-CAcreateserial"]
    _openssl("x509", "-req", "-days", "2", "-in", str(csr), *ca, "-extfile", str(ext), "-out", str(cert))
    broker = mosquitto_broker(extra_config=[f"cafile {ca_cert}", f"certfile {cert}", f"keyfile {key}"])

    acks = Acks()
    good = probes(broker.port, client_id="tls-good", ca_file=ca_cert).started()
    good.wait_connected()
    assert good.client.publish(Message(f"{T}/tls", b"encrypted"), acks.callback("tls"))
    assert wait_until(lambda: acks["tls"] == 1)

    bad = probes(broker.port, client_id="tls-bad", ca_file=other_ca).started()
    assert wait_until(lambda: "certificate verify failed" in (bad.client.status().error or ""), timeout=3)
    assert not bad.client.connected

    missing = probes(broker.port, client_id="tls-missing", ca_file=tmp_path / "nope.crt").started()
    assert (missing.client.status().error or "").startswith("cannot use mqtt.tls.ca_file:")


# -- incoming messages, callbacks that fail -----------------------------------------------------


def test_subscribed_messages_reach_on_message_and_failing_callbacks_break_nothing(
    mosquitto_broker: Broker, probes: Callable[..., Probe], caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*_args: object) -> None:
        raise RuntimeError("callback bug")

    broker = mosquitto_broker()
    probe = probes(
        broker.port, subscriptions=[f"{T}/cmd/#", f"{T}/+/set"], on_connect=explode, on_message=explode
    ).started()
    probe.wait_connected()
    assert probe.connects == 1  # on_connect ran (and raised) after the subscriptions were made
    acks = Acks()
    with Watcher(broker) as hub:
        for topic, payload in [(f"{T}/cmd/a", b"first"), (f"{T}/other", b"not subscribed"), (f"{T}/mode/set", b"x")]:
            hub.publish(topic, payload)
        assert wait_until(lambda: len(probe.messages) == 2)
        assert probe.messages == [(f"{T}/cmd/a", b"first"), (f"{T}/mode/set", b"x")]
        assert probe.client.publish(Message(f"{T}/a", b"1"), on_acked=explode)
        assert probe.client.publish(Message(f"{T}/b", b"2"), acks.callback("after"))
        assert wait_until(lambda: acks["after"] == 1)
        hub.publish(f"{T}/cmd/b", b"still listening")
        assert wait_until(lambda: (f"{T}/cmd/b", b"still listening") in probe.messages)
    assert probe.client.connected
    failures = [r.getMessage() for r in caplog.records if r.exc_info is not None]
    assert sorted(failures) == [
        "MQTT on_acked callback failed",
        "MQTT on_connect callback failed",
        "MQTT on_message callback failed",
        "MQTT on_message callback failed",
        "MQTT on_message callback failed",
    ]


def test_retained_messages_are_told_apart_from_live_ones(
    mosquitto_broker: Broker, probes: Callable[..., Probe]
) -> None:
    # A retained message is handed over at subscription time, i.e. at every (re)connect: a caller
    # must be able to tell it from a live one (a retained command is not a command now).
    broker = mosquitto_broker()
    with Watcher(broker) as hub:
        hub.publish(f"{T}/cmd/a", b"left behind", retain=True)
        probe = probes(broker.port, subscriptions=[f"{T}/cmd/#"]).started()
        probe.wait_connected()
        assert wait_until(lambda: len(probe.messages) == 1)
        hub.publish(f"{T}/cmd/a", b"now, retained too", retain=True)
        hub.publish(f"{T}/cmd/b", b"now")
        assert wait_until(lambda: len(probe.messages) == 3)
    assert probe.messages == [
        (f"{T}/cmd/a", b"left behind"),
        (f"{T}/cmd/a", b"now, retained too"),
        (f"{T}/cmd/b", b"now"),
    ]
    assert probe.retained == [True, False, False]  # the broker clears the flag for live deliveries


def test_no_error_is_logged_on_a_clean_stop_or_while_the_broker_is_away(
    mosquitto_broker: Broker, probes: Callable[..., Probe], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    broker = mosquitto_broker()
    for n in range(5):  # paho's loop turned once more after the DISCONNECT and logged an ERROR, every time
        probe = probes(broker.port, client_id=f"clean-stop-{n}").started()
        probe.wait_connected()
        assert probe.client.publish(Message(f"{T}/x", b"y" * 1000))
        probe.client.stop()
    # each a clean DISCONNECT (the broker says "disconnected.", not "closed its connection")
    assert wait_until(lambda: all(f"Client clean-stop-{n} disconnected." in broker.log() for n in range(5)))
    broker.stop()
    away = probes(broker.port, client_id="while-away").started()
    assert wait_until(lambda: "refused" in (away.client.status().error or ""), timeout=3)

    def retries() -> int:  # the same error again is logged at DEBUG; paho's own loop said ERROR each time
        return sum(r.levelno == logging.DEBUG and "cannot connect" in r.getMessage() for r in caplog.records)

    assert wait_until(lambda: retries() >= 2, timeout=5)  # the retries at ~1 s and ~3 s
    away.client.stop()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f"MQTT: cannot connect to the broker at {HOST}:{broker.port}: [Errno 111] Connection refused"
    ]  # the outage itself is still said, once


# -- our threads, not paho's ------------------------------------------------------------------------


def test_callbacks_run_in_our_event_thread_and_a_stuck_one_holds_up_no_traffic(
    mosquitto_broker: Broker, probes: Callable[..., Probe]
) -> None:
    # As behind a store stuck in an fsync: the first on_acked does not return. Had it run in the
    # thread that owns the socket, nothing more would be written or read until it did.
    broker = mosquitto_broker()
    ran_in: set[str] = set()
    order: list[str] = []
    stuck, release = threading.Event(), threading.Event()

    def acked(key: str) -> Callable[[], None]:
        def done() -> None:
            ran_in.add(threading.current_thread().name)
            order.append(key)
            if key == "first":
                stuck.set()
                release.wait(10)

        return done

    def seen(*_args: object) -> None:
        ran_in.add(threading.current_thread().name)

    with Watcher(broker) as hub:
        probe = probes(broker.port, subscriptions=[f"{T}/cmd"], on_connect=seen, on_message=seen).started()
        probe.wait_connected()
        assert probe.client.publish(Message(f"{T}/a", b"first"), acked("first"))
        assert stuck.wait(5)
        later = [f"later-{i}" for i in range(3)]
        for key in later:
            assert probe.client.publish(Message(f"{T}/a", key.encode()), acked(key))
        assert all(hub.wait_for(f"{T}/a", key.encode()) for key in later)  # written
        hub.publish(f"{T}/cmd", b"while stuck")  # QoS 1: our client must read it and answer
        assert wait_until(lambda: "Received PUBACK from edgewatch-test" in broker.log()), broker.log()[-2000:]
        assert probe.client.connected
        assert order == ["first"]
        assert probe.messages == []  # queued behind the stuck callback, in order
    # The broker's acks of `later` were read before that PUBACK was sent: the connection may go
    # now, and they still run once the callback returns.
    broker.stop()
    assert wait_until(lambda: not probe.client.connected)
    release.set()
    assert wait_until(lambda: len(order) == 4 and len(probe.messages) == 1)
    assert order == ["first", *later]  # each once, in the order the broker acked them
    assert probe.messages == [(f"{T}/cmd", b"while stuck")]
    assert ran_in == {"mqtt-events"}


class SocketCalls:
    """Every listen() and connect() made through Python's socket module while it is installed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.listens: list[tuple[str, int]] = []
        self.connects: list[object] = []
        real_listen, real_connect = socket.socket.listen, socket.socket.connect

        def listen(sock: socket.socket, *args: int) -> None:
            self.listens.append(sock.getsockname())
            real_listen(sock, *args)

        def connect(sock: socket.socket, address: Any) -> None:
            self.connects.append(address)
            real_connect(sock, address)

        monkeypatch.setattr(socket.socket, "listen", listen)
        monkeypatch.setattr(socket.socket, "connect", connect)


def test_the_client_listens_nowhere_and_connects_to_the_broker_only(
    mosquitto_broker: Broker, probes: Callable[..., Probe], monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = mosquitto_broker()
    calls = SocketCalls(monkeypatch)
    acks = Acks()
    probe = probes(broker.port).started()
    probe.wait_connected()
    assert probe.client.publish(Message(f"{T}/x", b"1"), acks.callback("first"))
    broker.stop()  # and a reconnect
    assert wait_until(lambda: not probe.client.connected)
    broker.start()
    probe.wait_connected()
    assert probe.client.publish(Message(f"{T}/x", b"2"), acks.callback("again"))
    assert wait_until(lambda: acks["again"] == 1)
    probe.client.stop()
    assert calls.listens == []
    assert set(calls.connects) == {(HOST, broker.port)}  # the broker (also the test's readiness probe)

    # Why the client runs paho's loop itself: paho's own loop_start() still (paho 2.2) builds its
    # wake-up pipe from a TCP listener on loopback. If this fails, paho stopped doing that.
    own = paho.Client(CallbackAPIVersion.VERSION2)
    own.loop_start()
    own.loop_stop()
    assert [host for host, _ in calls.listens] == ["127.0.0.1"]
