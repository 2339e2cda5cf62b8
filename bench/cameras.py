"""Four 720p RTSP cameras on this machine: fps held, drops, frame age, RSS per added camera, and
the appliance's CPU against what merely decoding the same streams takes (issue 18).

The parent builds the cameras' scenes (1280x720, 12 fps H.264, from real photos, with the
demo's light fade), serves each from a real GStreamer RTSP server on 127.0.0.1 (the servers
share this machine's cores with the appliance) and then, for each camera count, runs two
children one after the other, each a fresh subprocess (so that each count's RSS is its own):

- the appliance core (`Service`: capture → motion → regions → the real CPU detector → track,
  recording as configured), with `--model` (default: the model the product runs on the CPU);
- the decode-only reference: the same streams read by the product's own capture (`Camera`,
  PyAV `VideoSource` with the product's options: TCP, small probe, one decoder thread, the
  BGR conversion) delivering every frame into its `LatestFrame` slot exactly as in the
  service, but no detector, no pipeline, no recorder, no service. Its CPU is each camera's
  physical floor: what any appliance must spend to have the frames at all.

Each child warms up, then measures for a fixed window:

- fps in: frames the capture thread handed over (sequence numbers) per second;
- fps detect: frames the pipeline started on per second (target: the config's detect_fps);
- crops/s: images the camera had the detector run on per second (where the invokes go);
- drops: detect ticks the runner missed because a stage was busy (`CameraRunner.dropped`);
- frame age: `time.monotonic() - frame.monotonic` when the pipeline starts on a frame
  (how long the freshest frame had waited; decode and network time are not in it);
- RSS: VmRSS of the process at the end of the window; CPU: process time / wall time
  (100 % = one core), split by thread; the RTSP servers' and the whole machine's CPU too.

Targets (issue 18, at 4 cameras): every camera's detect fps >= 0.95 x detect_fps (4.75 at 5);
RSS per added camera = (RSS_4 - RSS_1) / 3 <= 20 MB; appliance CPU / decode-only CPU <= 1.6.
A zero-camera child (imports and the detector only) gives the fixed RSS.

    .venv/bin/python bench/cameras.py [--counts 1,2,4] [--warmup 5] [--window 30] [--repeats 1]
                                      [--model coco] [--scenes garage,arrival,visits,edge_parked]
                                      [--record off|events|continuous]
                                      [--steady-light] [--settle 120] [--json FILE]

Scenes (`--scenes`, camera i shows the i-th): names of `app.demo.scenes` (the demo has no car:
its parked vehicle is a motorcycle, COCO "motorcycle") or `app.demo.clip` kinds (person,
empty, vehicle; `--clip-seconds` long). The default: `garage` (she walks past the garage's
parked motorcycle: clip.py's person clip), `arrival` (a motorcycle rides in and parks),
`visits` (she walks through three times), `edge_parked` (a motorcycle parked at the edge, a
passer-by). --steady-light builds them without the demo's light fade (LIGHT_DROP 0); --settle
waits (at most that many seconds) for other processes to go quiet before each child. Every
wait is bounded, and the RTSP servers and the child are killed on exit, on errors and on SIGTERM.
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
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from machine import machine_cpu, settle  # bench/machine.py (bench/ is on sys.path when run)

if TYPE_CHECKING:  # the children import the app after cap_malloc_arenas()
    from app.analysis.pipeline import FrameResult
    from app.domain import Frame
    from app.run.service import Service
    from tests.support.rtsp import RtspCamera

ROOT = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")
RESULT_PREFIX = "RESULT "
DEFAULT_SCENES = ("garage", "arrival", "visits", "edge_parked")
MAX_CAMERAS = 4
# Issue 18's targets, at TARGET_CAMERAS cameras.
TARGET_CAMERAS = 4
TARGET_FPS_HELD = 0.95  # every camera's detect fps >= this x detect_fps (4.75 at 5)
TARGET_RSS_PER_CAMERA_MB = 20.0  # (RSS_4 - RSS_1) / 3
TARGET_CPU_RATIO = 1.6  # appliance CPU / decode-only CPU, same streams, same run
OTHERS_BUSY_PCT = 20.0  # other processes above this (100 % = 1 core) during a window: flagged


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


# -- what both children share ------------------------------------------------------------------


def start_watchdog(spec: dict[str, Any]) -> None:
    """Whatever happens, the child is gone a minute after its planned end."""
    watchdog = threading.Timer(spec["warmup"] + spec["window"] + 60, lambda: os._exit(3))
    watchdog.daemon = True
    watchdog.name = "bench-watchdog"
    watchdog.start()


def sleep_until(deadline: float) -> None:
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(0.5, left))


def usage(server_pids: list[int]) -> dict[str, Any]:
    """This process's CPU (in all and by thread), the RTSP servers' and the machine's, now."""
    times = os.times()
    return {
        "t": time.monotonic(),
        "cpu": times.user + times.system,
        "threads": thread_cpu(),
        "machine": machine_cpu(),
        "servers": servers_cpu(server_pids),
    }


def window_rss(start: float, window: float) -> list[float]:
    """Sleep through the window (from `start`), sampling VmRSS every second."""
    samples: list[float] = []
    deadline = start + window
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(1.0, left))
        samples.append(proc_status_mb("VmRSS"))
    return samples


def process_figures(a: dict[str, Any], b: dict[str, Any], rss_samples: list[float], pool: set[int]) -> dict[str, Any]:
    """CPU (in all, by thread group, servers, other processes) between two `usage` snapshots, and
    RSS now. Called before anything is stopped (thread names, RSS at the end of the window).
    `pool`: native threads that existed before the cameras (TFLite's)."""
    wall = b["t"] - a["t"]
    names = {t.native_id: t.name for t in threading.enumerate()}
    groups: dict[str, float] = {}
    for tid, cpu in b["threads"].items():
        name = names.get(tid, "")
        if tid == threading.get_native_id() or name in ("watchdog", "bench-watchdog", "MainThread"):
            group = "main+watchdog"
        elif name:
            group = name.split("-", 1)[0]  # capture-camN, pipeline-camN, detector
        elif tid in pool:
            group = "tflite pool"
        else:
            group = "ffmpeg/native"
        groups[group] = groups.get(group, 0.0) + cpu - a["threads"].get(tid, 0.0)
    rss = proc_status_mb("VmRSS")
    busy = b["machine"][0] - a["machine"][0]
    total = b["machine"][1] - a["machine"][1]
    machine = 100 * (os.cpu_count() or 1) * busy / total if total else None
    cpu = 100 * (b["cpu"] - a["cpu"]) / wall
    servers = 100 * (b["servers"] - a["servers"]) / wall
    return {
        "window_s": round(wall, 2),
        "rss_mb": round(rss, 1),
        "rss_anon_mb": round(proc_status_mb("RssAnon"), 1),
        "rss_min_mb": round(min(rss_samples, default=rss), 1),
        "rss_max_mb": round(max(rss_samples, default=rss), 1),
        "hwm_mb": round(proc_status_mb("VmHWM"), 1),
        "cpu_pct": round(cpu, 1),
        "threads_cpu_pct": {k: round(100 * v / wall, 1) for k, v in sorted(groups.items())},
        "servers_cpu_pct": round(servers, 1),
        "machine_busy_pct": None if machine is None else round(machine, 1),
        "other_cpu_pct": None if machine is None else round(max(0.0, machine - cpu - servers), 1),
    }


# -- the decode-only child: the product's capture alone ------------------------------------------


def run_decode_child(spec: dict[str, Any]) -> dict[str, Any]:
    """The cameras as the service builds them (`Camera(name, source)`: PyAV with the product's
    options, one decoder thread, BGR conversion, every frame into the camera's slot), and
    nothing else: no detector, pipeline, recorder or service."""
    from app.run.memory import cap_malloc_arenas

    cap_malloc_arenas()  # as `edgewatch run` does, before any thread
    start_watchdog(spec)
    urls: list[str] = spec["urls"]
    server_pids: list[int] = spec["server_pids"]

    import logging

    from app.capture import Camera

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cameras = [Camera(f"cam{i}", url) for i, url in enumerate(urls)]

    def state() -> dict[str, dict[str, int]]:
        out = {}
        for camera in cameras:
            frame = camera.slot.peek()
            health = camera.health()
            out[camera.name] = {
                "seq": 0 if frame is None else frame.seq,
                "reconnects": health.reconnects,
                "stalls": health.stalls,
            }
        return out

    for camera in cameras:
        camera.start()
    try:
        sleep_until(time.monotonic() + spec["warmup"])
        missing = [c.name for c in cameras if c.slot.peek() is None]
        if missing:
            raise RuntimeError(f"no frame from {', '.join(missing)} after {spec['warmup']:.0f} s of warm-up")
        a, ca = usage(server_pids), state()
        rss_samples = window_rss(a["t"], spec["window"])
        b, cb = usage(server_pids), state()
        figures = process_figures(a, b, rss_samples, set())
    finally:
        for camera in cameras:  # as Service.stop: all told first, then waited for against one deadline
            camera.stop(timeout=0.0)
        deadline = time.monotonic() + 5.0
        for camera in cameras:
            camera.stop(timeout=max(0.0, deadline - time.monotonic()))
    wall = b["t"] - a["t"]
    per_camera = [
        {
            "name": name,
            "fps_in": round((cb[name]["seq"] - ca[name]["seq"]) / wall, 2),
            "reconnects": cb[name]["reconnects"] - ca[name]["reconnects"],
            "stalls": cb[name]["stalls"] - ca[name]["stalls"],
        }
        for name in ca
    ]
    return {"mode": "decode", "cameras": len(urls), "per_camera": per_camera, **figures}


# -- the appliance child: one appliance core with N cameras ----------------------------------------


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    if spec.get("mode") == "decode":
        return run_decode_child(spec)
    return run_appliance_child(spec)


class Timings:
    """Per camera, while `measuring` is set: each frame's age when the pipeline starts on it, how long
    the pipeline took, and the frame's age when its result is out."""

    def __init__(self, names: Iterable[str]) -> None:
        self.measuring = threading.Event()
        self.ages: dict[str, list[float]] = {name: [] for name in names}
        self.took: dict[str, list[float]] = {name: [] for name in self.ages}
        self.done: dict[str, list[float]] = {name: [] for name in self.ages}

    def timed(self, name: str, process: Callable[[Frame], FrameResult]) -> Callable[[Frame], FrameResult]:
        def wrapper(frame: Frame) -> FrameResult:
            start = time.monotonic()
            counting = self.measuring.is_set()
            if counting:
                self.ages[name].append(start - frame.monotonic)
            try:
                return process(frame)
            finally:
                if counting:
                    end = time.monotonic()
                    self.took[name].append(end - start)
                    self.done[name].append(end - frame.monotonic)

        return wrapper


def appliance_state(service: Service) -> dict[str, Any]:
    """Each camera's frame sequence, drops, reconnects and stalls, and the crops served per camera, now."""
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
    served = {cam: n for w in service._workers for cam, n in w.stats().served.items()}
    return {"served": served, "cams": cams}


def appliance_per_camera(
    names: Iterable[str], sa: dict[str, Any], sb: dict[str, Any], timings: Timings, wall: float
) -> list[dict[str, Any]]:
    """Each camera's figures over the window, from the `appliance_state` before (sa) and after (sb) it."""
    per_camera = []
    for name in names:
        ca, cb = sa["cams"][name], sb["cams"][name]
        ages, took, done = timings.ages[name], timings.took[name], timings.done[name]
        per_camera.append(
            {
                "name": name,
                "fps_in": round((cb["seq"] - ca["seq"]) / wall, 2),
                "fps_detect": round(len(ages) / wall, 2),
                "dropped": cb["dropped"] - ca["dropped"],
                "reconnects": cb["reconnects"] - ca["reconnects"],
                "stalls": cb["stalls"] - ca["stalls"],
                "crops_per_s": round((sb["served"].get(name, 0) - sa["served"].get(name, 0)) / wall, 2),
                "age_p50_ms": ms(pct(ages, 50)),
                "age_p95_ms": ms(pct(ages, 95)),
                "process_p50_ms": ms(pct(took, 50)),
                "process_p95_ms": ms(pct(took, 95)),
                "result_age_p95_ms": ms(pct(done, 95)),
            }
        )
    return per_camera


def baseline(model: str, window: float) -> dict[str, Any]:
    """The zero-camera child: imports, detector, its thread pool; no camera, no service."""
    time.sleep(min(window, 5.0))
    return {
        "mode": "appliance",
        "cameras": 0,
        "model": model,
        "rss_mb": round(proc_status_mb("VmRSS"), 1),
        "rss_anon_mb": round(proc_status_mb("RssAnon"), 1),
        "hwm_mb": round(proc_status_mb("VmHWM"), 1),
    }


def run_appliance_child(spec: dict[str, Any]) -> dict[str, Any]:
    from app.run.memory import cap_malloc_arenas

    cap_malloc_arenas()  # as `edgewatch run` does, before any thread
    start_watchdog(spec)
    urls: list[str] = spec["urls"]
    warmup: float = spec["warmup"]
    window: float = spec["window"]
    server_pids: list[int] = spec["server_pids"]

    import logging

    import numpy as np

    from app.config import DetectorConfig, parse_config
    from app.detect import open_detector
    from app.run.service import Service
    from app.store import Store

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    detector = open_detector(DetectorConfig(type="cpu", model=spec["model"]))
    warm = np.random.default_rng(0).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    for _ in range(5):  # the interpreter's arena and thread pool exist from here on
        detector.detect(warm, 0.5)
    native_before = set(thread_cpu()) - {threading.get_native_id()}  # TFLite/XNNPACK pool
    model = detector.info.model

    if not urls:
        return baseline(model, window)

    cams = "\n".join(
        f"  cam{i}:\n    source: {url}\n    detect_fps: {spec['detect_fps']}" for i, url in enumerate(urls)
    )
    store_dir = Path(spec["store"])
    store_dir.mkdir(parents=True, exist_ok=True)
    store = Store(store_dir, retain_days=1, max_mb=256)
    record = "{enabled: false}" if spec["record"] == "off" else f"{{mode: {spec['record']}}}"
    detector_yaml = f"{{type: cpu, model: {json.dumps(spec['model'])}}}"  # JSON strings are YAML
    config = parse_config(f"node_id: bench\ndetector: {detector_yaml}\ncameras:\n{cams}\nrecord: {record}\n")
    service = Service(config, detector, store)
    timings = Timings(service.runners)
    for name, runner in service.runners.items():
        pipeline = runner.analysis.pipeline
        pipeline.process = timings.timed(name, pipeline.process)  # type: ignore[method-assign,assignment]

    service.start()
    try:
        sleep_until(time.monotonic() + warmup)
        missing = [n for n, r in service.runners.items() if r.camera.slot.peek() is None]
        if missing:
            raise RuntimeError(f"no frame from {', '.join(missing)} after {warmup:.0f} s of warm-up")
        a, sa = usage(server_pids), appliance_state(service)
        timings.measuring.set()
        rss_samples = window_rss(a["t"], window)
        timings.measuring.clear()
        b, sb = usage(server_pids), appliance_state(service)
        figures = process_figures(a, b, rss_samples, native_before)
        status = service.status()
    finally:
        service.stop()

    per_camera = appliance_per_camera(service.runners, sa, sb, timings, b["t"] - a["t"])
    all_ages = [x for v in timings.ages.values() for x in v]
    return {
        "mode": "appliance",
        "cameras": len(urls),
        "model": model,
        "per_camera": per_camera,
        "age_p50_ms": ms(pct(all_ages, 50)),
        "age_p95_ms": ms(pct(all_ages, 95)),
        "age_max_ms": ms(max(all_ages, default=None)),
        "result_age_p95_ms": ms(pct([x for v in timings.done.values() for x in v], 95)),
        **figures,
        "inference_ms": status.detector.inference_ms,
        "status_fps": [(c.fps_in, c.fps_detect) for c in status.cameras],
    }


# -- the parent: scenes, servers, two children per count ---------------------------------------------


def run_count(
    mode: str, urls: list[str], server_pids: list[int], args: argparse.Namespace, work: Path, tag: str
) -> dict[str, Any]:
    spec = {
        "mode": mode,
        "urls": urls,
        "warmup": args.warmup,
        "window": args.window,
        "detect_fps": args.detect_fps,
        "record": args.record,
        "model": args.model,
        "store": str(work / f"store-{tag}"),
        "server_pids": server_pids,
    }
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=args.warmup + args.window + 90, env=env, check=False
    )
    what = f"{mode} child with {len(urls)} cameras"
    with (work / "children.log").open("a") as f:
        f.write(f"--- {what}, exit {proc.returncode}\n{proc.stderr}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{what} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1].removeprefix(RESULT_PREFIX))
    return result


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def span(values: list[float]) -> str:
    low, high = min(values), max(values)
    return f"{low:.2f}" if f"{low:.2f}" == f"{high:.2f}" else f"{low:.2f}–{high:.2f}"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


Runs = dict[int, list[dict[str, Any]]]  # camera count → each repeat's appliance result (with its decode_only)


def report(runs: Runs, args: argparse.Namespace) -> None:
    scenes: list[str] = args.scene_list
    models = sorted({r["model"] for rs in runs.values() for r in rs if "model" in r})
    print(
        f"\nmachine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} cores; "
        f"model {', '.join(models) or args.model} on the CPU; "
        f"window {args.window:.0f} s after {args.warmup:.0f} s warm-up; detect_fps {args.detect_fps:g}; "
        f"record {args.record}; {'steady light' if args.steady_light else 'light fade'}; "
        f"cameras: {', '.join(f'cam{i} {s}' for i, s in enumerate(scenes))}"
    )
    print_counts_table(runs)
    print()
    print_cameras_table(runs)
    print()
    print_threads(runs)
    print()
    print_rss_and_fps(runs)
    print_targets(runs, args, models)


def print_counts_table(runs: Runs) -> None:
    """One row per camera count and repeat: the appliance against the decode-only reference."""
    header = (
        "| cameras | fps in (12) | fps detect (5) min / mean | drops/min/cam | frame age p50 / p95 ms "
        "| age at result p95 ms | RSS MB | CPU % appliance | CPU % decode only | CPU ratio "
        "| decode-only fps in | RTSP servers CPU % | other processes CPU % (appliance / decode) |"
    )
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for r in runs.get(0, []):
        print(f"| 0 (imports + detector) | - | - | - | - | - | {r['rss_mb']:.0f} | - | - | - | - | - | - |")
    for n in sorted(k for k in runs if k):
        for r in runs[n]:
            cams, dec = r["per_camera"], r["decode_only"]
            fps_det = [c["fps_detect"] for c in cams]
            drops = mean([c["dropped"] / (r["window_s"] / 60) for c in cams])
            print(
                f"| {n} | {span([c['fps_in'] for c in cams])} | {min(fps_det):.2f} / {mean(fps_det):.2f} | "
                f"{drops:.1f} | {fmt(r['age_p50_ms'], 0)} / {fmt(r['age_p95_ms'], 0)} | "
                f"{fmt(r['result_age_p95_ms'], 0)} | {r['rss_mb']:.0f} | {r['cpu_pct']:.0f} | {dec['cpu_pct']:.0f} | "
                f"{r['cpu_ratio']:.2f} | {span([c['fps_in'] for c in dec['per_camera']])} | "
                f"{r['servers_cpu_pct']:.0f} | {fmt(r['other_cpu_pct'], 0)} / {fmt(dec['other_cpu_pct'], 0)} |"
            )


def print_cameras_table(runs: Runs) -> None:
    """One row per camera of each count and repeat."""
    header = (
        "| cameras | camera | scene | fps in | fps detect | drops/min | crops/s | process p50 / p95 ms "
        "| frame age p95 ms | age at result p95 ms | decode-only fps in |"
    )
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for n in sorted(k for k in runs if k):
        for r in runs[n]:
            decoded = {c["name"]: c for c in r["decode_only"]["per_camera"]}
            for c in r["per_camera"]:
                notes = "".join(f", {c[k]} {k}" for k in ("reconnects", "stalls") if c[k] or decoded[c["name"]].get(k))
                print(
                    f"| {n} | {c['name']} | {c.get('scene', '-')} | {c['fps_in']:.2f} | {c['fps_detect']:.2f} | "
                    f"{c['dropped'] / (r['window_s'] / 60):.1f} | {c['crops_per_s']:.1f} | "
                    f"{fmt(c['process_p50_ms'], 0)} / {fmt(c['process_p95_ms'], 0)} | {fmt(c['age_p95_ms'], 0)} | "
                    f"{fmt(c['result_age_p95_ms'], 0)} | {decoded[c['name']]['fps_in']:.2f}{notes} |"
                )


def print_threads(runs: Runs) -> None:
    """Where each count's CPU went, by thread group, and its RSS over the window."""
    for n in sorted(k for k in runs if k):
        for r in runs[n]:
            dec = r["decode_only"]
            threads = ", ".join(f"{k} {v:.0f}" for k, v in r["threads_cpu_pct"].items())
            dthreads = ", ".join(f"{k} {v:.0f}" for k, v in dec["threads_cpu_pct"].items())
            crops = sum(c["crops_per_s"] for c in r["per_camera"])
            print(f"{n} cameras: appliance CPU % by thread: {threads}")
            print(f"    decode only CPU % by thread: {dthreads}")
            print(
                f"    appliance - decode only = {r['cpu_pct'] - dec['cpu_pct']:.0f} % of a core; "
                f"{crops:.1f} crops/s in all, invoke {r['inference_ms']:.1f} ms"
            )
            print(
                f"    RSS over the window {r['rss_min_mb']:.0f}–{r['rss_max_mb']:.0f} MB, "
                f"anon {r['rss_anon_mb']:.0f} MB, peak (VmHWM) {r['hwm_mb']:.0f} MB; "
                f"decode only {dec['rss_mb']:.0f} MB"
            )


def med(runs: Runs, n: int, key: str, decode: bool = False) -> float | None:
    """The median over the repeats of `key` at n cameras (of the decode-only child with `decode`)."""
    values = [float((r["decode_only"] if decode else r)[key]) for r in runs.get(n, [])]
    return statistics.median(values) if values else None


def med_detect(runs: Runs, n: int) -> float | None:
    """The median over the repeats of the mean detect fps of the cameras at n cameras."""
    values = [mean([c["fps_detect"] for c in r["per_camera"]]) for r in runs.get(n, [])]
    return statistics.median(values) if values else None


def print_rss_and_fps(runs: Runs) -> None:
    """What each added camera costs in RSS, and how much detect fps 4 cameras keep of 1's."""
    rss0, rss1, rss2 = med(runs, 0, "rss_mb"), med(runs, 1, "rss_mb"), med(runs, 2, "rss_mb")
    if rss1 is not None and rss2 is not None:
        print(f"RSS_2 - RSS_1 = {rss2 - rss1:.1f} MB")
    if rss0 is not None and rss1 is not None:
        print(f"first camera + service: RSS_1 - RSS_0 = {rss1 - rss0:.1f} MB (RSS_0 {rss0:.0f} MB: imports + detector)")
    d_rss1, d_rss4 = med(runs, 1, "rss_mb", decode=True), med(runs, 4, "rss_mb", decode=True)
    if d_rss1 is not None and d_rss4 is not None:
        print(f"decode only: RSS per added camera (RSS_4 - RSS_1) / 3 = {(d_rss4 - d_rss1) / 3:.1f} MB")
    d1, d4 = med_detect(runs, 1), med_detect(runs, 4)
    if d1 and d4 is not None:
        print(f"fps held: mean detect fps with 4 cameras / with 1 camera = {d4:.2f} / {d1:.2f} = {d4 / d1:.3f}")


def print_targets(runs: Runs, args: argparse.Namespace, models: list[str]) -> None:
    """Issue 18's three targets at TARGET_CAMERAS cameras, each met or MISSED, and any cautions."""
    n = TARGET_CAMERAS
    print(
        f"\ntargets (issue 18), {n} cameras, model {', '.join(models) or args.model} on the CPU"
        + (f", over {args.repeats} repeats" if args.repeats > 1 else "")
        + ":"
    )
    print_fps_target(runs, args.detect_fps)
    print_rss_target(runs)
    print_cpu_target(runs)
    for note in cautions(runs.get(n, [])):
        print(f"  caution: {note}")


def print_fps_target(runs: Runs, detect_fps: float) -> None:
    n = TARGET_CAMERAS
    fps_goal = TARGET_FPS_HELD * detect_fps
    if runs.get(n):
        worst = min(((c["fps_detect"], c["name"]) for r in runs[n] for c in r["per_camera"]), key=lambda x: x[0])
        print(
            f"  detect fps held, every camera >= {fps_goal:.2f}: lowest {worst[0]:.2f} ({worst[1]}) "
            f"-> {verdict(worst[0] >= fps_goal)}"
        )
    else:
        print(f"  detect fps held: not measured (--counts has no {n})")


def print_rss_target(runs: Runs) -> None:
    rss1, rss4 = med(runs, 1, "rss_mb"), med(runs, 4, "rss_mb")
    if rss1 is not None and rss4 is not None:
        per = (rss4 - rss1) / 3
        print(
            f"  RSS per added camera <= {TARGET_RSS_PER_CAMERA_MB:.0f} MB: (RSS_4 - RSS_1) / 3 = "
            f"({rss4:.0f} - {rss1:.0f}) / 3 = {per:.1f} MB -> {verdict(per <= TARGET_RSS_PER_CAMERA_MB)}"
        )
    else:
        print("  RSS per added camera: not measured (--counts needs 1 and 4)")


def print_cpu_target(runs: Runs) -> None:
    n = TARGET_CAMERAS
    if runs.get(n):
        ratios = [r["cpu_ratio"] for r in runs[n]]
        ratio = statistics.median(ratios)
        cpu, dcpu = med(runs, n, "cpu_pct"), med(runs, n, "cpu_pct", decode=True)
        assert cpu is not None
        assert dcpu is not None
        spread = f" (repeats {span(ratios)})" if len(ratios) > 1 else ""
        print(
            f"  appliance CPU / decode-only CPU <= {TARGET_CPU_RATIO:g}: {cpu:.0f} % / {dcpu:.0f} % = "
            f"{ratio:.2f}{spread} -> {verdict(ratio <= TARGET_CPU_RATIO)}"
        )
    else:
        print(f"  appliance CPU / decode-only CPU: not measured (--counts has no {n})")


def cautions(results: list[dict[str, Any]]) -> list[str]:
    """Why a count's figures may not be a fair measure: the machine was shared (a starved appliance
    also spends less CPU: it decodes fewer frames and detects less, so the ratio reads low)."""
    notes = []
    for r in results:
        dec = r["decode_only"]
        short = min(c["fps_in"] for c in r["per_camera"])
        floor = min(c["fps_in"] for c in dec["per_camera"])
        if short < 0.98 * floor:
            notes.append(
                f"the appliance took {short:.2f} fps in on its slowest camera against {floor:.2f} decode-only: "
                "it was short of CPU and did less than the whole job, so its CPU (and the ratio) reads low"
            )
        busy = [x for x in (r["other_cpu_pct"], dec["other_cpu_pct"]) if x is not None]
        if busy and max(busy) > OTHERS_BUSY_PCT:
            notes.append(
                f"other processes used {fmt(r['other_cpu_pct'], 0)} % / {fmt(dec['other_cpu_pct'], 0)} % "
                f"(appliance / decode-only window, 100 % = 1 core): noisy, measure again on a quiet machine"
            )
    return notes


def default_model(asked: str | None) -> tuple[str, str]:
    """The model the children run: `asked`, or what the product picks on the CPU by default
    (app.detect.factory.DEFAULT_MODELS: coco when it is installed); and a line about it."""
    from app.config import DetectorConfig
    from app.detect.factory import DEFAULT_MODELS, resolve_model
    from app.detect.models import ModelStore

    spec = resolve_model(DetectorConfig(type="cpu", model=asked), ModelStore(), "cpu")
    why = "as asked" if asked else f"the product's default on the CPU, the first installed of {DEFAULT_MODELS}"
    return spec.name, f"model: {spec.name} ({spec.variant}, {spec.path.name}; {why})"


def build_scenes(names: list[str], work: Path, clip_seconds: float) -> dict[str, Path]:
    """Each named scene (app.demo.scenes) or clip kind (app.demo.clip) once, as raw Annex-B H.264."""
    from app.demo.clip import KINDS, make_clip
    from app.demo.scenes import make_scene

    out: dict[str, Path] = {}
    for name in dict.fromkeys(names):
        video, annexb = work / f"{name}.mp4", work / f"{name}.h264"
        if name in KINDS:
            kind = next(k for k in KINDS if k == name)
            made = make_clip(video, kind=kind, seconds=clip_seconds, annexb=annexb).annexb
        else:
            made = make_scene(name, video, annexb=annexb).annexb
        assert made is not None
        out[name] = made
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", default="1,2,4", help="camera counts to run (at most 4); 0 is always run")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--detect-fps", type=float, default=5.0)
    parser.add_argument(
        "--model", default=None, help="detector model on the CPU (default: the product's, coco when installed)"
    )
    parser.add_argument(
        "--scenes",
        default=",".join(DEFAULT_SCENES),
        help="what camera 1, 2, ... shows: app.demo.scenes names or app.demo.clip kinds (person, empty, vehicle)",
    )
    parser.add_argument("--clip-seconds", type=float, default=20.0, help="length of clip kinds (not of scenes)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--settle", type=float, default=120.0, help="at most this long, wait for a quiet machine")
    parser.add_argument(
        "--steady-light",
        action="store_true",
        help="scenes without the light fade (LIGHT_DROP 0), to see what the fade costs the motion prefilter",
    )
    parser.add_argument(
        "--record",
        choices=("off", "events", "continuous"),
        default="events",
        help="recording (the product's default: events; continuous writes every camera's stream all the time)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write every child's result here")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    return parser


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[int]:
    """The camera counts to run (0 aside) and, in `args.scene_list`, the scene of each camera;
    exits through `parser.error` on a bad --counts or --scenes."""
    counts = sorted({int(c) for c in args.counts.split(",")} - {0})
    if not counts or counts[0] < 1 or counts[-1] > MAX_CAMERAS:
        parser.error(f"--counts must be between 1 and {MAX_CAMERAS}")
    import app.demo.clip
    from app.demo.scenes import SCENES

    args.scene_list = [s.strip() for s in args.scenes.split(",") if s.strip()]
    unknown = [s for s in args.scene_list if s not in SCENES and s not in app.demo.clip.KINDS]
    if unknown:
        parser.error(f"unknown scene {', '.join(unknown)}: one of {', '.join((*SCENES, *app.demo.clip.KINDS))}")
    if len(args.scene_list) < counts[-1]:
        parser.error(f"--scenes names {len(args.scene_list)} cameras; --counts asks for {counts[-1]}")
    args.scene_list = args.scene_list[: counts[-1]]
    return counts


def run_counts(servers: list[RtspCamera], counts: list[int], args: argparse.Namespace, work: Path, runs: Runs) -> None:
    """Every count (0 first) `--repeats` times, the appliance then the decode-only child; into `runs`."""
    pids = [s.pid for s in servers if s.pid is not None]
    for rep in range(args.repeats):
        for n in [0, *counts]:
            urls = [s.url for s in servers[:n]]
            modes = ["appliance", "decode"] if n else ["appliance"]
            got: dict[str, dict[str, Any]] = {}
            for mode in modes:
                busy = settle(args.settle, 20.0) if n else 0.0
                print(
                    f"run {rep + 1}/{args.repeats}: {n} cameras, {mode} (machine {busy:.0f} % busy before) ...",
                    flush=True,
                )
                got[mode] = run_count(mode, urls, pids, args, work, f"{n}-{rep}-{mode}")
            r = got["appliance"]
            if n:
                for c in r["per_camera"]:
                    c["scene"] = args.scene_list[int(c["name"].removeprefix("cam"))]
                r["decode_only"] = got["decode"]
                r["cpu_ratio"] = round(r["cpu_pct"] / got["decode"]["cpu_pct"], 3)
            runs.setdefault(n, []).append(r)


def print_child_warnings(work: Path) -> None:
    """The last 20 WARNING and ERROR lines of the children's logs, if any."""
    log = work / "children.log"
    text = log.read_text() if log.exists() else ""
    warnings = [line for line in text.splitlines() if " WARNING " in line or " ERROR " in line]
    if warnings:
        print("child log warnings:\n  " + "\n  ".join(warnings[-20:]))


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    if args.child is not None:
        print(RESULT_PREFIX + json.dumps(run_child(json.loads(args.child))), flush=True)
        return
    sys.path.insert(0, str(ROOT))
    counts = check_args(parser, args)
    import app.demo.clip

    args.model, about_model = default_model(args.model)
    print(about_model)

    def on_term(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)  # unwind: the servers are killed on the way out

    signal.signal(signal.SIGTERM, on_term)
    from tests.support.rtsp import RtspCamera

    with tempfile.TemporaryDirectory(prefix="cam-bench-") as tmp, contextlib.ExitStack() as stack:
        work = Path(tmp)
        started = time.perf_counter()
        if args.steady_light:
            app.demo.clip.LIGHT_DROP = 0.0  # the scenes' light is clip.py's (app.demo.scripts._fading)
        streams = build_scenes(args.scene_list, work, args.clip_seconds)
        light = "steady light" if args.steady_light else f"light fades by {app.demo.clip.LIGHT_DROP:.0%} mid-clip"
        took = time.perf_counter() - started
        print(f"scenes: {', '.join(streams)}; 1280x720 12 fps, {light}, looping; built in {took:.0f} s")
        servers = []
        for i, scene in enumerate(args.scene_list):
            server = RtspCamera(streams[scene], mount=f"/cam{i}", fps=12, log_dir=work)
            stack.callback(server.close)
            servers.append(server.start())
        served = zip(servers, args.scene_list, strict=True)
        print(f"RTSP servers: {', '.join(f'{s.url} ({scene})' for s, scene in served)}")
        runs: Runs = {}
        try:
            run_counts(servers, counts, args, work, runs)
        finally:
            if args.json is not None and runs:
                args.json.write_text(json.dumps(runs, indent=1) + "\n")
            print_child_warnings(work)
        report(runs, args)


if __name__ == "__main__":
    main()
