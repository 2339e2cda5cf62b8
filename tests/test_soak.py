"""The short soak (issue 8): `bench/soak.py --duration 80`, the whole appliance as a separate
process with 4 real RTSP cameras, a real broker, a hub and a dashboard user, while faults
come in a compressed schedule — the appliance SIGKILLed and restarted, a camera killed and
another frozen, the broker stopped, the Edge TPU wedged and replugged, the disk filled (when
a tmpfs can be mounted: root). One run; each test reads one of its findings.

Bounds, and why (the soak computes each fault's recovery bound from the product's own
timings, `bench/soak.py: recovery_bound`; this file only caps them so they cannot grow
meaningless):
- a camera is back within the reconnect wait under way when it returns (waits double from
  0.5 s, so at most the outage + 0.5 s, capped at 10 s, +20 % jitter) + one open timeout
  (5 s: a frozen server holds an open that long) + the status poll (1 s) and request time;
- MQTT is back within paho's wait under way (doubling from 1 s: at most the outage + 1 s);
- the Edge TPU is degraded within its 3 s hang timeout + the poll, and healed within the 5 s
  probe period + the self-test (< 1 s) + the poll;
- the API answers again within 30 s of the SIGKILL (a start takes ~6 s here; CI boxes are
  slower and share their cores);
- after the disk is freed, the next person visit (one per 6 s clip loop; one may be missed)
  stores its alert;
- fds between two steady moments (all cameras up, broker connected, no fault) may differ by a
  store reader connection (3 fds) and an API connection; RSS by what one replugged TPU costs
  (bench/soak.py MAX_RSS_GROWTH_MB).

Needs Debian's `strace` (deploy/packages-dev.txt) for the file-write check; it fails, not
skips, without it, so that the privacy guarantee is never silently untested. Without root (no
tmpfs) the disk-full fault is skipped, and says so; the rest still runs.

The last three tests show the privacy checks can fail: the strace readers are fed what a leaking
appliance would do, and the socket sampler is shown a real connection to another process.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.demo.clip import ClipInfo

ROOT = Path(__file__).resolve().parents[1]
# The whole appliance under faults for 80 s (2-3 min with set-up): `-m "not slow"` leaves it out.
pytestmark = pytest.mark.slow
SOAK = ROOT / "bench" / "soak.py"
DURATION_S = 80  # the short schedule (bench/soak.py SHORT), compressed a little more to keep the suite quick
# No bound may be looser than this, whatever the soak computes: a fault that took longer would
# be an outage an installer notices.
CAP_S = {
    "camera_kill": 20.0,
    "camera_freeze": 20.0,
    "broker_stop": 12.0,
    "detector_hang": 10.0,
    "disk_full": 20.0,
    "appliance_kill": 30.0,
}
REQUIRED = {"appliance_kill", "camera_kill", "camera_freeze", "broker_stop", "detector_hang"}

Result = dict[str, Any]


@pytest.fixture(scope="module")
def soak(tmp_path_factory: pytest.TempPathFactory, person_clip: ClipInfo, empty_clip: ClipInfo) -> Result:
    if shutil.which("strace") is None:
        pytest.fail("the soak's file-write check needs strace: apt-get install strace (deploy/packages-dev.txt)")
    work = tmp_path_factory.mktemp("soak")
    out = work / "soak.json"
    args = [
        sys.executable,
        str(SOAK),
        "--duration",
        str(DURATION_S),
        "--settle",
        "0",
        "--work",
        str(work / "run"),
        "--json",
        str(out),
        "--person-clip",
        str(person_clip.path),
        "--empty-clip",
        str(empty_clip.path),
    ]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=DURATION_S + 150, cwd=ROOT, check=False)
    if not out.exists():
        pytest.fail(f"the soak did not finish (exit {proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}")
    result: Result = json.loads(out.read_text())
    result["output"] = proc.stdout  # the soak's own report, shown when an assertion fails
    return result


def started(soak: Result) -> list[dict[str, Any]]:
    return [f for f in soak["faults"] if f["started"] is not None]


def test_every_fault_of_the_schedule_happened(soak: Result) -> None:
    kinds = {f["kind"] for f in started(soak)}
    assert kinds >= REQUIRED, soak["output"]
    disk = [f for f in soak["faults"] if f["kind"] == "disk_full"]
    if disk and disk[0]["skipped"]:
        print(f"disk-full fault skipped: {disk[0]['skipped']}")  # shown with -rA; the rest still ran


def test_no_alert_is_lost(soak: Result) -> None:
    alerts = soak["alerts"]
    person_cams = alerts["per_camera"]["cam0"] + alerts["per_camera"]["cam2"]
    assert person_cams >= 2, soak["output"]  # without alerts, "none lost" would prove nothing
    assert alerts["per_camera"]["cam1"] + alerts["per_camera"]["cam3"] == 0, soak["output"]  # nobody there
    assert alerts["lost"] == [], soak["output"]


def test_duplicates_only_ever_carry_the_same_id(soak: Result) -> None:
    alerts = soak["alerts"]
    assert alerts["same_object_different_ids"] == {}, soak["output"]
    assert alerts["delivered_not_stored_unexplained"] == [], soak["output"]


def test_every_fault_is_shown_and_recovers_within_its_bound(soak: Result) -> None:
    for f in started(soak):
        assert f["bound_s"] <= CAP_S[f["kind"]], f
        assert f["recovered_s"] is not None, (f, soak["output"])
        assert f["recovered_s"] <= f["bound_s"], (f, soak["output"])
        shown_within = f["notes"].get("detection_bound_s")
        if shown_within is not None:
            assert f["detected_s"] is not None, (f, soak["output"])
            assert f["detected_s"] <= shown_within, (f, soak["output"])


def test_the_appliance_only_talks_to_its_cameras_and_broker(soak: Result) -> None:
    privacy = soak["privacy"]
    assert privacy["socket_samples"] >= DURATION_S * 0.8  # about one a second, across both runs
    seen = privacy["socket_kinds_seen"]
    assert seen.get("camera", 0) > 0, seen
    assert seen.get("broker", 0) > 0, seen
    assert seen.get("api-listen", 0) > 0, seen
    assert privacy["socket_violation_count"] == 0, privacy["socket_violations"]


def test_nothing_is_written_outside_storage_path(soak: Result) -> None:
    files = soak["privacy"]["files"]
    assert files is not None, "the appliance did not run under strace"
    assert files["writes_inside"] > 0  # the trace sees the store's writes, so it would see others
    assert files["violations"] == [], files["violations"]


def test_no_image_leaves_over_mqtt(soak: Result) -> None:
    privacy = soak["privacy"]
    assert privacy["mqtt_messages"] > 0
    assert privacy["mqtt_images"] == []  # mqtt.snapshots is off: metadata only


def test_fds_and_memory_do_not_grow(soak: Result) -> None:
    check = soak["checks"]["no_growth"]
    assert check["ok"], check["detail"]


def test_detection_holds_its_rate_and_the_api_answers(soak: Result) -> None:
    for camera, fps in soak["fps"].items():
        assert fps["mean"] is not None, (camera, fps, soak["output"])
        assert fps["mean"] >= 4.5, (camera, fps, soak["output"])
    api = soak["api"]
    assert api["errors_outside_restart"] == [], api
    assert api["latest_jpg_bad"] == [], api


def test_it_stops_cleanly_with_an_intact_store(soak: Result) -> None:
    stop = soak["stop"]
    assert stop["exit_code"] == 0, stop
    assert stop["integrity"] == "ok", stop
    assert stop["drain_s"] is not None, stop
    assert stop["runs"] == 2  # the SIGKILLed run and its restart


def test_every_soak_check_passed(soak: Result) -> None:
    failed = {name: c["detail"] for name, c in soak["checks"].items() if not c["ok"]}
    assert failed == {}, soak["output"]


# -- the checks themselves can fail: fed what a leaking appliance would do, or shown a real socket ----

STORAGE = "/var/lib/edgewatch"
TRACE = f"""\
100  openat(AT_FDCWD</>, "{STORAGE}/edgewatch.db-wal", O_RDWR|O_CREAT|O_CLOEXEC, 0644) = 7<{STORAGE}/edgewatch.db-wal>
100  openat(AT_FDCWD</>, "/etc/hostname", O_RDONLY|O_CLOEXEC) = 8</etc/hostname>
101  openat(AT_FDCWD</>, "/tmp/tflite_cache.bin", O_WRONLY|O_CREAT|O_TRUNC, 0666 <unfinished ...>
100  openat(AT_FDCWD</>, "/dev/null", O_WRONLY, 0666) = 3</dev/null<char 1:3>>
101  <... openat resumed>) = 9</tmp/tflite_cache.bin>
100  openat(AT_FDCWD</root>, ".cache/x", O_WRONLY|O_CREAT, 0600) = -1 EACCES (Permission denied)
100  renameat2(AT_FDCWD</>, "{STORAGE}/s/a.tmp", AT_FDCWD</>, "{STORAGE}/s/a.jpg", RENAME_NOREPLACE) = 0
100  socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 5<TCP:[1]>
100  connect(5<TCP:[1]>, {{sa_family=AF_INET, sin_port=htons(8554), sin_addr=inet_addr("127.0.0.1")}}, 16) = 0
100  connect(6, {{sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("203.0.113.7")}}, 16) = -1 EINPROGRESS
100  listen(7<TCP:[127.0.0.1:41000]>, 1) = 0
100  connect(8<TCP:[3]>, {{sa_family=AF_INET, sin_port=htons(41000), sin_addr=inet_addr("127.0.0.1")}}, 16) = 0
100  listen(9<TCP:[0.0.0.0:22]>, 128) = 0
100  socket(AF_PACKET, SOCK_RAW, 768) = 10<PACKET:[4]>
100  --- SIGUSR1 {{si_signo=SIGUSR1, si_code=SI_USER}} ---
"""


@pytest.fixture
def trace(tmp_path: Path) -> Path:
    path = tmp_path / "strace-1.txt"
    path.write_text(TRACE)
    return path


def test_the_file_check_flags_writes_outside_storage_even_refused_ones(trace: Path) -> None:
    found = soak_module().file_writes([trace], STORAGE)
    assert found["writes_inside"] == 3  # the WAL, and both names of the rename
    assert sorted(v["path"] for v in found["violations"]) == ["/root/.cache/x", "/tmp/tflite_cache.bin"]
    assert list(found["allowed"]) == ["/dev/null: the null device: whatever is written is discarded"]


def test_the_network_check_flags_any_other_peer_or_listener(trace: Path) -> None:
    found = soak_module().network_calls([trace], {("127.0.0.1", 8554)}, api_port=8080)
    assert {v["what"] for v in found["violations"]} == {"AF_PACKET SOCK_RAW", "203.0.113.7:443", "9<TCP:[0.0.0.0:22]>"}
    assert found["local"]["self-pair (listen + connect on loopback)"] == 1  # listen + connect to itself


def test_the_socket_sampler_sees_a_real_connection_to_another_process(tmp_path: Path) -> None:
    soak = soak_module()
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket, time; s = socket.create_server(('127.0.0.1', 0)); "
            "print(s.getsockname()[1], flush=True); c, _ = s.accept(); time.sleep(10)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            appliance = soak.Appliance(tmp_path, tmp_path / "config.yaml", None)
            sampler = soak.ProcSampler(appliance, api_port=1, cameras={port + 1: "cam0"}, broker_port=port + 2)
            sample = sampler.sample(os.getpid())
    finally:
        server.kill()
        server.wait(5)
    assert sample.fds > 0
    assert sample.rss_mb > 0
    # (Only this one is asserted: the test process may hold other tests' connections.)
    assert f"127.0.0.1:{port}" in {v.get("remote") for v in sampler.violations}


def soak_module() -> Any:
    """bench/soak.py, imported (bench/ is not a package)."""
    if str(ROOT / "bench") not in sys.path:
        sys.path.insert(0, str(ROOT / "bench"))
    import soak

    return soak
