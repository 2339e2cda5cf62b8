"""Four 720p RTSP cameras on this machine: fps held, drops, frame age, RSS per added camera.

The parent builds one person clip and one empty clip (20 s, 1280x720, 12 fps H.264, from
real photos), serves them from real GStreamer RTSP servers on 127.0.0.1 (the servers share
this machine's cores with the appliance) and then, for each camera count, runs the
appliance core (`Service`: capture → motion → regions → the real CPU detector → track) in
a fresh subprocess, so that each count's RSS is its own. The child warms up, then measures
for a fixed window:

- fps in: frames the capture thread handed over (sequence numbers) per second;
- fps detect: frames the pipeline started on per second (target: the config's detect_fps);
- drops: detect ticks the runner missed because a stage was busy (`CameraRunner.dropped`);
- frame age: `time.monotonic() - frame.monotonic` when the pipeline starts on a frame
  (how long the freshest frame had waited; decode and network time are not in it);
- RSS: VmRSS of the process at the end of the window; CPU: process time / wall time
  (100 % = one core), split by thread; the RTSP servers' and the whole machine's CPU too.

The reference is the same run's one-camera child (and a zero-camera child: imports and the
detector only): "RSS per added camera" = (RSS_4 - RSS_1) / 3, "fps held" = detect fps with
4 cameras / with 1.

    .venv/bin/python bench/cameras.py [--counts 1,2,4] [--warmup 5] [--window 30] [--repeats 1]
                                      [--record off|events|continuous]
                                      [--steady-light] [--settle 120] [--json FILE]

--steady-light builds the clips without the demo's light fade; --settle waits (at most that
many seconds) for other processes to go quiet before each child. Every wait is bounded, and
the RTSP servers and the child are killed on exit, on errors and on SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from machine import machine_cpu, settle  # bench/machine.py (bench/ is on sys.path when run)

ROOT = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")
RESULT_PREFIX = "RESULT "
KINDS = ("person", "empty", "person", "empty")


# -- /proc readers --------------------------------------------------------------------------


def proc_status_mb(key: str, pid: str = "self") -> float:
    """A `kB` line of /proc/PID/status (VmRSS, VmHWM, RssAnon, ...) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(key)


def proc_cpu_s(stat_path: str) -> float:
    """utime + stime of a /proc/.../stat file, in seconds."""
    fields = Path(stat_path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def thread_cpu() -> dict[int, float]:
    """CPU seconds of each thread of this process, by kernel thread id."""
    out: dict[int, float] = {}
    for entry in os.scandir("/proc/self/task"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            out[int(entry.name)] = proc_cpu_s(f"/proc/self/task/{entry.name}/stat")
    return out


def servers_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += proc_cpu_s(f"/proc/{pid}/stat")
    return total


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


# -- the child: one appliance core with N cameras ---------------------------------------------


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    from app.memory import cap_malloc_arenas

    cap_malloc_arenas()  # as `edgewatch run` does, before any thread
    urls: list[str] = spec["urls"]
    warmup: float = spec["warmup"]
    window: float = spec["window"]
    server_pids: list[int] = spec["server_pids"]
    # Whatever happens below, this process is gone a minute after its planned end.
    watchdog = threading.Timer(warmup + window + 60, lambda: os._exit(3))
    watchdog.daemon = True
    watchdog.name = "bench-watchdog"
    watchdog.start()

    import logging

    import numpy as np

    from app.config import DetectorConfig, parse_config
    from app.detect import open_detector
    from app.domain import Frame
    from app.pipeline import FrameResult
    from app.service import Service
    from app.store import Store

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    detector = open_detector(DetectorConfig(type="cpu"))
    warm = np.random.default_rng(0).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    for _ in range(5):  # the interpreter's arena and thread pool exist from here on
        detector.detect(warm, 0.5)
    native_before = set(thread_cpu()) - {threading.get_native_id()}  # TFLite/XNNPACK pool

    if not urls:  # the baseline: imports, detector, its thread pool; no camera, no service
        time.sleep(min(window, 5.0))
        return {
            "cameras": 0,
            "rss_mb": round(proc_status_mb("VmRSS"), 1),
            "rss_anon_mb": round(proc_status_mb("RssAnon"), 1),
            "hwm_mb": round(proc_status_mb("VmHWM"), 1),
        }

    cams = "\n".join(
        f"  cam{i}:\n    source: {url}\n    detect_fps: {spec['detect_fps']}" for i, url in enumerate(urls)
    )
    store = Store(Path(tempfile.mkdtemp(prefix="bench-store-")), retain_days=1, max_mb=256)
    record = "{enabled: false}" if spec["record"] == "off" else f"{{mode: {spec['record']}}}"
    config = parse_config(f"node_id: bench\ndetector: {{type: cpu}}\ncameras:\n{cams}\nrecord: {record}\n")
    service = Service(config, detector, store)
    measuring = threading.Event()
    ages: dict[str, list[float]] = {name: [] for name in service.runners}
    took: dict[str, list[float]] = {name: [] for name in service.runners}
    done: dict[str, list[float]] = {name: [] for name in service.runners}  # frame age when its result is out

    def timed(name: str, process: Callable[[Frame], FrameResult]) -> Callable[[Frame], FrameResult]:
        def wrapper(frame: Frame) -> FrameResult:
            start = time.monotonic()
            counting = measuring.is_set()
            if counting:
                ages[name].append(start - frame.monotonic)
            try:
                return process(frame)
            finally:
                if counting:
                    end = time.monotonic()
                    took[name].append(end - start)
                    done[name].append(end - frame.monotonic)

        return wrapper

    for name, runner in service.runners.items():
        pipeline = runner.analysis.pipeline
        pipeline.process = timed(name, pipeline.process)  # type: ignore[method-assign,assignment]

    def snapshot() -> dict[str, Any]:
        cams: dict[str, Any] = {}
        for name, runner in service.runners.items():
            frame = runner.camera.slot.peek()
            health = runner.camera.health()
            cams[name] = {
                "seq": 0 if frame is None else frame.seq,
                "dropped": runner.dropped,
                "reconnects": health.reconnects,
                "stalls": health.stalls,
            }
        usage = os.times()
        return {
            "t": time.monotonic(),
            "cpu": usage.user + usage.system,
            "threads": thread_cpu(),
            "machine": machine_cpu(),
            "servers": servers_cpu(server_pids),
            "served": {cam: n for w in service._workers for cam, n in w.stats().served.items()},
            "cams": cams,
        }

    service.start()
    try:
        deadline = time.monotonic() + warmup
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(0.5, left))
        missing = [n for n, r in service.runners.items() if r.camera.slot.peek() is None]
        if missing:
            raise RuntimeError(f"no frame from {', '.join(missing)} after {warmup:.0f} s of warm-up")
        a = snapshot()
        measuring.set()
        rss_samples: list[float] = []
        deadline = a["t"] + window
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(1.0, left))
            rss_samples.append(proc_status_mb("VmRSS"))
        measuring.clear()
        b = snapshot()
        rss = proc_status_mb("VmRSS")
        rss_anon = proc_status_mb("RssAnon")
        hwm = proc_status_mb("VmHWM")
        status = service.status()
        names = {t.native_id: t.name for t in threading.enumerate()}
    finally:
        service.stop()

    wall = b["t"] - a["t"]
    per_camera = []
    for name in service.runners:
        ca, cb = a["cams"][name], b["cams"][name]
        per_camera.append(
            {
                "name": name,
                "fps_in": round((cb["seq"] - ca["seq"]) / wall, 2),
                "fps_detect": round(len(ages[name]) / wall, 2),
                "dropped": cb["dropped"] - ca["dropped"],
                "reconnects": cb["reconnects"] - ca["reconnects"],
                "stalls": cb["stalls"] - ca["stalls"],
                "crops_per_s": round((b["served"].get(name, 0) - a["served"].get(name, 0)) / wall, 2),
                "age_p50_ms": ms(pct(ages[name], 50)),
                "age_p95_ms": ms(pct(ages[name], 95)),
                "process_p50_ms": ms(pct(took[name], 50)),
                "process_p95_ms": ms(pct(took[name], 95)),
                "result_age_p95_ms": ms(pct(done[name], 95)),
            }
        )
    groups: dict[str, float] = {}
    for tid, cpu in b["threads"].items():
        name = names.get(tid, "")
        if tid == threading.get_native_id() or name in ("watchdog", "bench-watchdog", "MainThread"):
            group = "main+watchdog"
        elif name:
            group = name.split("-", 1)[0]  # capture-camN, pipeline-camN, detector
        elif tid in native_before:
            group = "tflite pool"
        else:
            group = "ffmpeg/native"
        groups[group] = groups.get(group, 0.0) + cpu - a["threads"].get(tid, 0.0)
    all_ages = [x for v in ages.values() for x in v]
    busy = b["machine"][0] - a["machine"][0]
    total = b["machine"][1] - a["machine"][1]
    machine = 100 * (os.cpu_count() or 1) * busy / total if total else None
    cpu = 100 * (b["cpu"] - a["cpu"]) / wall
    servers = 100 * (b["servers"] - a["servers"]) / wall
    return {
        "cameras": len(urls),
        "window_s": round(wall, 2),
        "per_camera": per_camera,
        "age_p50_ms": ms(pct(all_ages, 50)),
        "age_p95_ms": ms(pct(all_ages, 95)),
        "age_max_ms": ms(max(all_ages, default=None)),
        "result_age_p95_ms": ms(pct([x for v in done.values() for x in v], 95)),
        "rss_mb": round(rss, 1),
        "rss_anon_mb": round(rss_anon, 1),
        "rss_min_mb": round(min(rss_samples, default=rss), 1),
        "rss_max_mb": round(max(rss_samples, default=rss), 1),
        "hwm_mb": round(hwm, 1),
        "cpu_pct": round(cpu, 1),
        "threads_cpu_pct": {k: round(100 * v / wall, 1) for k, v in sorted(groups.items())},
        "servers_cpu_pct": round(servers, 1),
        "machine_busy_pct": None if machine is None else round(machine, 1),
        "other_cpu_pct": None if machine is None else round(max(0.0, machine - cpu - servers), 1),
        "inference_ms": status.detector.inference_ms,
        "status_fps": [(c.fps_in, c.fps_detect) for c in status.cameras],
    }


# -- the parent: clips, servers, one child per count --------------------------------------------


def run_count(urls: list[str], server_pids: list[int], args: argparse.Namespace, log: Path) -> dict[str, Any]:
    spec = {
        "urls": urls,
        "warmup": args.warmup,
        "window": args.window,
        "detect_fps": args.detect_fps,
        "record": args.record,
        "server_pids": server_pids,
    }
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=args.warmup + args.window + 90, env=env, check=False
    )
    with log.open("a") as f:
        f.write(f"--- {len(urls)} cameras, exit {proc.returncode}\n{proc.stderr}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"child with {len(urls)} cameras failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1].removeprefix(RESULT_PREFIX))
    return result


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def span(values: list[float]) -> str:
    low, high = min(values), max(values)
    return f"{low:.2f}" if f"{low:.2f}" == f"{high:.2f}" else f"{low:.2f}–{high:.2f}"


def report(runs: dict[int, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    print(
        f"\nmachine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} cores; "
        f"window {args.window:.0f} s after {args.warmup:.0f} s warm-up; detect_fps {args.detect_fps:g}; "
        f"cameras: {', '.join(KINDS)} (in that order)"
    )
    header = (
        "| cameras | fps in (12) | fps detect (5) | drops/min/cam | frame age p50 / p95 ms | age at result p95 ms "
        "| RSS MB | CPU % (100 = 1 core) | RTSP servers CPU % | other processes CPU % |"
    )
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    baseline = runs.get(0, [])
    for r in baseline:
        print(f"| 0 (imports + detector) | - | - | - | - | - | {r['rss_mb']:.0f} | - | - | - |")
    for n in sorted(k for k in runs if k):
        for r in runs[n]:
            cams = r["per_camera"]
            fps_in = [c["fps_in"] for c in cams]
            fps_det = [c["fps_detect"] for c in cams]
            drops = mean([c["dropped"] / (r["window_s"] / 60) for c in cams])
            print(
                f"| {n} | {span(fps_in)} | {span(fps_det)} | {drops:.1f} | "
                f"{fmt(r['age_p50_ms'], 0)} / {fmt(r['age_p95_ms'], 0)} | {fmt(r['result_age_p95_ms'], 0)} | "
                f"{r['rss_mb']:.0f} | {r['cpu_pct']:.0f} | "
                f"{r['servers_cpu_pct']:.0f} | {fmt(r['other_cpu_pct'], 0)} |"
            )
    print()
    for n in sorted(k for k in runs if k):
        for r in runs[n]:
            threads = ", ".join(f"{k} {v:.0f}" for k, v in r["threads_cpu_pct"].items())
            per = "; ".join(
                f"{c['name']} {c['crops_per_s']:.1f} crops/s, process p50/p95 {fmt(c['process_p50_ms'], 0)}/"
                f"{fmt(c['process_p95_ms'], 0)} ms, age p95 {fmt(c['age_p95_ms'], 0)} ms"
                + (f", {c['reconnects']} reconnects" if c["reconnects"] else "")
                + (f", {c['stalls']} stalls" if c["stalls"] else "")
                for c in r["per_camera"]
            )
            print(f"{n} cameras: CPU % by thread: {threads}; invoke {r['inference_ms']:.1f} ms")
            print(f"    {per}")
            print(
                f"    RSS over the window {r['rss_min_mb']:.0f}–{r['rss_max_mb']:.0f} MB, "
                f"anon {r['rss_anon_mb']:.0f} MB, peak (VmHWM) {r['hwm_mb']:.0f} MB"
            )

    def med(n: int, key: str) -> float | None:
        values = [float(r[key]) for r in runs.get(n, [])]
        return statistics.median(values) if values else None

    def med_detect(n: int) -> float | None:
        values = [mean([c["fps_detect"] for c in r["per_camera"]]) for r in runs.get(n, [])]
        return statistics.median(values) if values else None

    rss0, rss1, rss2, rss4 = med(0, "rss_mb"), med(1, "rss_mb"), med(2, "rss_mb"), med(4, "rss_mb")
    print()
    if rss1 is not None and rss4 is not None:
        print(f"RSS per added camera: {(rss4 - rss1) / 3:.1f} MB (target <= 20 MB)  [(RSS_4 - RSS_1) / 3]")
    if rss1 is not None and rss2 is not None:
        print(f"  (RSS_2 - RSS_1 = {rss2 - rss1:.1f} MB)")
    if rss0 is not None and rss1 is not None:
        print(f"first camera + service: RSS_1 - RSS_0 = {rss1 - rss0:.1f} MB (RSS_0 {rss0:.0f} MB: imports + detector)")
    d1, d4 = med_detect(1), med_detect(4)
    if d1 and d4 is not None:
        print(f"fps held: detect fps with 4 cameras / with 1 camera = {d4:.2f} / {d1:.2f} = {d4 / d1:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", default="1,2,4", help="camera counts to run (at most 4); 0 is always run")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--detect-fps", type=float, default=5.0)
    parser.add_argument("--clip-seconds", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--settle", type=float, default=120.0, help="at most this long, wait for a quiet machine")
    parser.add_argument(
        "--steady-light",
        action="store_true",
        help="clips without the light fade (LIGHT_DROP 0), to see what the fade costs the motion prefilter",
    )
    parser.add_argument(
        "--record",
        choices=("off", "events", "continuous"),
        default="events",
        help="recording (the product's default: events; continuous writes every camera's stream all the time)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write every child's result here")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(RESULT_PREFIX + json.dumps(run_child(json.loads(args.child))), flush=True)
        return
    counts = sorted({int(c) for c in args.counts.split(",")} - {0})
    if not counts or counts[0] < 1 or counts[-1] > len(KINDS):
        parser.error(f"--counts must be between 1 and {len(KINDS)}")

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)  # unwind: the servers are killed on the way out

    signal.signal(signal.SIGTERM, on_term)
    sys.path.insert(0, str(ROOT))
    import app.demo.clip
    from app.demo.clip import make_clip
    from tests.support.rtsp import RtspCamera

    with tempfile.TemporaryDirectory(prefix="bench-cameras-") as tmp, contextlib.ExitStack() as stack:
        work = Path(tmp)
        started = time.perf_counter()
        if args.steady_light:
            app.demo.clip.LIGHT_DROP = 0.0
        clips = {
            kind: make_clip(work / f"{kind}.mp4", kind=kind, seconds=args.clip_seconds, annexb=work / f"{kind}.h264")
            for kind in ("person", "empty")
        }
        light = "steady light" if args.steady_light else f"light fades by {app.demo.clip.LIGHT_DROP:.0%} mid-clip"
        took = time.perf_counter() - started
        print(f"clips: 2 x {args.clip_seconds:.0f} s 1280x720 12 fps, {light}, looping; built in {took:.0f} s")
        servers = []
        for i, kind in enumerate(KINDS[: counts[-1]]):
            annexb = clips[kind].annexb
            assert annexb is not None
            server = RtspCamera(annexb, mount=f"/cam{i}", fps=12, log_dir=work)
            stack.callback(server.close)
            servers.append(server.start())
        pids = [s.pid for s in servers if s.pid is not None]
        print(f"RTSP servers: {', '.join(s.url for s in servers)}")
        runs: dict[int, list[dict[str, Any]]] = {}
        log = work / "children.log"
        try:
            for rep in range(args.repeats):
                for n in [0, *counts]:
                    busy = settle(args.settle, 20.0) if n else 0.0
                    print(
                        f"run {rep + 1}/{args.repeats}: {n} cameras (machine {busy:.0f} % busy before) ...", flush=True
                    )
                    r = run_count([s.url for s in servers[:n]], pids, args, log)
                    runs.setdefault(n, []).append(r)
        finally:
            if args.json is not None and runs:
                args.json.write_text(json.dumps(runs, indent=1) + "\n")
            text = log.read_text() if log.exists() else ""
            warnings = [line for line in text.splitlines() if " WARNING " in line or " ERROR " in line]
            if warnings:
                print("child log warnings:\n  " + "\n  ".join(warnings[-20:]))
        report(runs, args)


if __name__ == "__main__":
    main()
