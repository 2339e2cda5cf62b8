"""The dashboard API under load while cameras run: request latency, and what it costs detection.

Two real GStreamer RTSP cameras (720p, 12 fps H.264, a person walking) feed the running
appliance (`Service`: capture → motion → regions → the real CPU detector → track → rules,
uvicorn serving the API on 127.0.0.1). Three phases of `--window` seconds each:

1. quiet: no API traffic — the pipeline's detect fps per camera (the reference);
2. load: a separate load process keeps `--concurrency` (default 50) requests in flight,
   alternating `GET /api/status` and `GET /api/cameras/<cam>/latest.jpg` with a session
   cookie, over keep-alive connections — latency p50/p90/p99 and requests/s per route;
3. quiet again: the reference once more, so drift is visible.

Printed: detect fps quiet vs under load (drop %, target ≤ 5 %), latency per route, the
service process's CPU. The load process shares this machine's cores with the appliance
(here: 2), which makes the figure pessimistic for a real LAN client on another machine.

    .venv/bin/python bench/api_load.py [--window 20] [--concurrency 50] [--detect-fps 5] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from machine import settle  # bench/machine.py (bench/ is on sys.path when run)

ROOT = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")
PASSWORD = "bench passphrase for the api"


def load_main(base: str, cookie: str, cameras: list[str], concurrency: int, seconds: float) -> None:
    """The load process: `concurrency` closed-loop workers; prints one JSON line of results."""
    import httpx

    async def run() -> dict[str, Any]:
        latencies: dict[str, list[float]] = {"status": [], "latest.jpg": []}
        errors: dict[str, int] = {}
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(base_url=base, cookies={"ew_session": cookie}, limits=limits) as client:
            deadline = time.monotonic() + seconds

            async def worker(n: int) -> None:
                i = n
                while time.monotonic() < deadline:
                    route = "status" if i % 2 == 0 else "latest.jpg"
                    path = (
                        "/api/status" if route == "status" else f"/api/cameras/{cameras[i % len(cameras)]}/latest.jpg"
                    )
                    i += 1
                    start = time.perf_counter()
                    try:
                        response = await client.get(path, timeout=10)
                        ok = response.status_code == 200
                        key = str(response.status_code)
                    except httpx.HTTPError as exc:
                        ok, key = False, type(exc).__name__
                    if ok:
                        latencies[route].append(time.perf_counter() - start)
                    else:
                        errors[key] = errors.get(key, 0) + 1

            await asyncio.gather(*(worker(n) for n in range(concurrency)))
        return {"latencies": latencies, "errors": errors, "seconds": seconds}

    print(json.dumps(asyncio.run(run())), flush=True)


WRK_LUA = """
local cameras = {%s}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/api/cameras/" .. cameras[(n %% #cameras) + 1] .. "/latest.jpg")
end
"""
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk_load(
    base: str, cookie: str, cameras: list[str], concurrency: int, seconds: float, work: Path
) -> dict[str, Any]:
    """Half the connections on /api/status, half on latest.jpg (cameras alternating), from two
    wrk processes (C, one thread each) so the load generator costs the machine little."""
    script = work / "latest.lua"
    script.write_text(WRK_LUA % ", ".join(f'"{c}"' for c in cameras))
    half = max(1, concurrency // 2)
    common = ["wrk", "-t1", f"-c{half}", f"-d{seconds:.0f}s", "--latency", "-H", f"Cookie: ew_session={cookie}"]
    procs = {
        "status": subprocess.Popen([*common, f"{base}/api/status"], stdout=subprocess.PIPE, text=True),
        "latest.jpg": subprocess.Popen([*common, "-s", str(script), f"{base}/"], stdout=subprocess.PIPE, text=True),
    }
    result: dict[str, Any] = {"generator": f"wrk, {2 * half} connections"}
    errors: dict[str, int] = {}
    for route, proc in procs.items():
        out, _ = proc.communicate(timeout=seconds + 60)
        result[route] = parse_wrk(out)
        if result[route].pop("non_2xx"):
            errors[route] = 1
    result["errors"] = errors
    return result


def parse_wrk(text: str) -> dict[str, Any]:
    found: dict[str, Any] = {"non_2xx": "Non-2xx" in text}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("50%", "90%", "99%"):
            value = re.match(r"([0-9.]+)(us|ms|s)$", parts[1])
            assert value, line
            found[f"p{parts[0][:-1]}_ms"] = float(value.group(1)) * UNITS[value.group(2)]
        elif line.startswith("Requests/sec:"):
            found["requests_per_s"] = float(parts[1])
        elif "Socket errors" in line or "Non-2xx" in line:
            found["problem"] = line.strip()
    return found


def proc_cpu_s() -> float:
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def python_load(base: str, cookie: str, cameras: list[str], concurrency: int, seconds: float) -> str:
    """Runs this script's `--load` process (no wrk: far more CPU per request, a pessimistic figure);
    returns what it printed."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--load", base, cookie, ",".join(cameras), str(concurrency), str(seconds)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    out, _ = proc.communicate(timeout=seconds + 60)
    return out


def python_load_results(out: str, concurrency: int) -> dict[str, Any]:
    """The `--load` process's JSON line as a phase's generator, per-route rates and latencies, and errors."""
    found: dict[str, Any] = {"generator": f"python httpx, {concurrency} workers"}
    loaded = json.loads(out.strip().splitlines()[-1])
    for route, values in loaded["latencies"].items():
        found[route] = {
            "requests_per_s": len(values) / loaded["seconds"],
            "p50_ms": 1000 * statistics.median(values) if values else None,
            "p90_ms": 1000 * pct(values, 90) if values else None,
            "p99_ms": 1000 * pct(values, 99) if values else None,
        }
    found["errors"] = loaded["errors"]
    return found


@dataclass(frozen=True)
class Phases:
    """What each phase needs: the logged-in API, the cameras, and the detections counted so far
    (`done`: when and on which camera, appended under `lock` by the service's listener)."""

    base: str
    cookie: str
    names: list[str]
    args: argparse.Namespace
    work: Path
    done: list[tuple[float, str]]
    lock: threading.Lock

    def run(self, load: bool) -> dict[str, Any]:
        """One `--window`: quiet, or under load (wrk if installed, else the Python load process).
        Returns the detect fps per camera, the service's CPU, and with load the generator's figures."""
        args = self.args
        cpu0, t0 = proc_cpu_s(), time.monotonic()
        wrk = None
        out = None
        if load and shutil.which("wrk"):
            wrk = wrk_load(self.base, self.cookie, self.names, args.concurrency, args.window, self.work)
        elif load:
            out = python_load(self.base, self.cookie, self.names, args.concurrency, args.window)
        else:
            time.sleep(args.window)
        t1, cpu1 = time.monotonic(), proc_cpu_s()
        with self.lock:
            window = [(t, c) for t, c in self.done if t0 <= t <= t1]
        fps = {n: sum(1 for _, c in window if c == n) / (t1 - t0) for n in self.names}
        entry: dict[str, Any] = {"fps": fps, "service_cpu_pct": 100 * (cpu1 - cpu0) / (t1 - t0)}
        if wrk is not None:
            entry.update(wrk)
        if out is not None:
            entry.update(python_load_results(out, args.concurrency))
        return entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--detect-fps", type=float, default=5.0)
    parser.add_argument("--settle", type=float, default=60.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--load", nargs=5, metavar=("BASE", "COOKIE", "CAMERAS", "CONCURRENCY", "SECONDS"))
    args = parser.parse_args()
    if args.load:
        base, cookie, cameras, concurrency, seconds = args.load
        load_main(base, cookie, cameras.split(","), int(concurrency), float(seconds))
        return

    sys.path.insert(0, str(ROOT))
    import logging

    import httpx

    from app.analysis.camera import Outcome
    from app.api.app import Security, create_app
    from app.api.auth import Credentials, LoginLimiter, Sessions, credentials_path
    from app.api.server import ApiServer
    from app.config import parse_config
    from app.demo.clip import make_clip
    from app.detect import open_detector
    from app.run.service import Service
    from app.store import Store
    from tests.support.rtsp import RtspCamera

    logging.basicConfig(level=logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="edgewatch-api-bench-"))
    print(f"building the clip in {work} ...", flush=True)
    clip = make_clip(work / "person.mp4", kind="person", seconds=20, annexb=work / "person.h264")
    assert clip.annexb is not None
    servers = [RtspCamera(clip.annexb, log_dir=work).start() for _ in range(2)]
    names = ["front", "back"]
    cams = "\n".join(
        f"  {n}:\n    source: {s.url}\n    detect_fps: {args.detect_fps}" for n, s in zip(names, servers, strict=True)
    )
    config = parse_config(
        f"node_id: bench\ncameras:\n{cams}\ndetector: {{type: cpu}}\n"
        "rules: [{name: anyone, objects: [person], cooldown: 30s}]\n"
        f"api: {{listen: '127.0.0.1:8080', allow: [loopback]}}\nstorage: {{path: '{work / 'state'}'}}\n"
    )
    store = Store(work / "state", retain_days=1, max_mb=256)
    detector = open_detector(config.detector)
    service = Service(config, detector, store)
    done: list[tuple[float, str]] = []
    lock = threading.Lock()

    def on_outcome(outcome: Outcome) -> None:
        with lock:
            done.append((time.monotonic(), outcome.result.frame.camera))

    service.add_listener(on_outcome)
    credentials = Credentials(credentials_path(str(work / "state")))
    credentials.set_password(PASSWORD)
    security = Security(credentials, Sessions(), LoginLimiter(), None)
    server = ApiServer(create_app(service, service.metrics, security, config.api), "127.0.0.1", 0)
    results: dict[str, Any] = {"machine": f"{platform.machine()} {os.cpu_count()} cores", "phases": {}}
    try:
        settle(args.settle)
        service.start()
        server.start()
        base = f"http://127.0.0.1:{server.port}"
        login = httpx.post(f"{base}/api/login", json={"username": "admin", "password": PASSWORD})
        assert login.status_code == 204, login.text
        cookie = login.cookies["ew_session"]
        time.sleep(args.warmup)
        phases = Phases(base, cookie, names, args, work, done, lock)
        for name, load in (("quiet", False), ("load", True), ("quiet_again", False)):
            entry = phases.run(load)
            results["phases"][name] = entry
            print(f"{name}: {json.dumps(entry)}", flush=True)
    finally:
        server.stop()
        service.stop()
        store.close()
        detector.close()
        for s in servers:
            s.close()
    report(results, args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    phases = results["phases"]
    quiet = [statistics.mean(phases[p]["fps"].values()) for p in ("quiet", "quiet_again")]
    reference = statistics.mean(quiet)
    loaded = statistics.mean(phases["load"]["fps"].values())
    drop = 100 * (reference - loaded) / reference if reference else float("nan")
    print(f"\nmachine: {results['machine']}; detect_fps configured {args.detect_fps}, 2 cameras")
    print("| phase | detect fps (mean of 2 cameras) | service CPU (100 % = 1 core) |")
    print("|---|---|---|")
    for name in ("quiet", "load", "quiet_again"):
        p = phases[name]
        print(f"| {name} | {statistics.mean(p['fps'].values()):.2f} | {p['service_cpu_pct']:.0f} % |")
    print(f"\nfps under {args.concurrency} concurrent requests vs quiet: {loaded:.2f} / {reference:.2f} "
          f"= drop {drop:.1f} % (target ≤ 5 %)")  # fmt: skip
    print("| route | requests/s | p50 ms | p90 ms | p99 ms |")
    print("|---|---|---|---|---|")
    for route in ("status", "latest.jpg"):
        r = phases["load"][route]
        print(f"| {route} | {r['requests_per_s']:.0f} | {r['p50_ms']:.1f} | {r['p90_ms']:.1f} | {r['p99_ms']:.1f} |")
    print(f"load generator: {phases['load']['generator']}; errors: {phases['load']['errors'] or 'none'}")


if __name__ == "__main__":
    main()
