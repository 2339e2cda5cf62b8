"""The run's figures: faults (see `recovery`), fps held, resources per appliance run, alerts stored
against delivered, the API's answers and privacy; with the checks (see `checks`) on top."""

from __future__ import annotations

import os
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from soaklib.checks import checks
from soaklib.faults import Fault
from soaklib.files import file_writes
from soaklib.network import network_calls
from soaklib.poller import StatusSample
from soaklib.records import machine_line, read_store
from soaklib.recovery import Alerts, FaultWindows, answering, first_after, measure_faults
from soaklib.run import Soak
from soaklib.sampler import ProcSample
from soaklib.scene import KINDS, PROC_EVERY_S, STATUS_EVERY_S


def slope_per_hour(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of (t in s, value) in value per hour."""
    if len(points) < 10:
        return None
    ts = [p[0] for p in points]
    vs = [p[1] for p in points]
    mt, mv = statistics.fmean(ts), statistics.fmean(vs)
    var = sum((t - mt) ** 2 for t in ts)
    if var == 0:
        return None
    return 3600 * sum((t - mt) * (v - mv) for t, v in zip(ts, vs, strict=True)) / var


def analyse(soak: Soak) -> dict[str, Any]:
    samples = soak.poller.samples
    ok = [s for s in samples if s.ok and s.body]
    store_alerts, integrity = read_store(soak.storage)
    order = measure_faults(soak, store_alerts)
    windows = FaultWindows(order, soak.t_end)
    busy = soak.cpu1[0] - soak.cpu0[0]
    total = soak.cpu1[1] - soak.cpu0[1]
    result: dict[str, Any] = {
        "machine": machine_line(),
        "machine_busy_pct": round(100 * (os.cpu_count() or 1) * busy / total, 0) if total else None,
        "duration_s": soak.args.duration,
        "clip_s": soak.person.seconds,
        "strace": bool(soak.appliance.strace),
        "tmpfs": soak.disk.mounted,
        "tmpfs_note": soak.disk.unavailable,
        "faults": [fault_dict(f, soak.t0) for f in soak.faults],
        "alerts": alert_figures(soak, store_alerts, ok),
        "fps": fps_figures(soak, ok, windows),
        "resources": resource_figures(soak, order, windows),
        "storage_used_mb": [s.body["storage"]["used_mb"] for s in (ok[0], ok[-1]) if s.body] if ok else None,
        "privacy": privacy_figures(soak),
        "api": api_figures(soak, order, windows),
        "stop": {
            "drain_s": None if soak.drain_s is None else round(soak.drain_s, 1),
            "exit_code": soak.exit_code,
            "integrity": integrity,
            "runs": soak.appliance.runs,
        },
        "unexpected_exits": soak.crashes,
        "fd_changes": [{**c, "t": round(c["t"] - soak.t0, 1)} for c in soak.sampler.fd_changes[:300]],
        "series": [
            [round(p.t - soak.t0, 1), p.pid, p.rss_mb, p.fds, p.threads] for p in soak.sampler.samples
        ],  # t (s from the start), pid, RSS MB, fds, threads
        "hub_connects": [(round(t - soak.t0, 1), present) for t, present in soak.hub.connects],
    }
    result["checks"] = checks(result)
    return result


def fps_figures(soak: Soak, ok: Sequence[StatusSample], windows: FaultWindows) -> dict[str, Any]:
    """Per camera: detect fps outside the fault windows after warm-up, and while other faults were on."""
    warm = soak.t0 + (30.0 if soak.args.duration >= 240 else 8.0)
    fps: dict[str, Any] = {}
    for name in KINDS:
        steady = [s.cam(name)["fps_detect"] for s in ok if warm <= s.t <= soak.t_end and windows.at(s.t) is None]
        during: dict[str, list[float]] = {}
        for s in ok:
            g = windows.at(s.t)
            if g is not None and g.target != name and g.kind != "appliance_kill" and s.cam(name)["online"]:
                during.setdefault(g.kind, []).append(s.cam(name)["fps_detect"])
        fps[name] = {
            "samples": len(steady),
            "mean": round(statistics.fmean(steady), 2) if steady else None,
            "p5": round(sorted(steady)[len(steady) // 20], 2) if steady else None,
            "during_other_faults": {k: round(statistics.fmean(v), 2) for k, v in during.items()},
        }
    return fps


def resource_figures(soak: Soak, order: Sequence[Fault], windows: FaultWindows) -> list[dict[str, Any]]:
    """Per appliance run: RSS, fds and threads, first and last, over the steady samples, and their slopes."""
    resources = []
    for i, (started, pid) in enumerate(soak.appliance.starts):
        mine = [p for p in soak.sampler.samples if p.pid == pid]
        ready = first_after(soak.poller.samples, started, answering) or started
        settle_s = 30.0 if soak.args.duration >= 240 else 5.0
        steady = [p for p in mine if p.t >= ready + settle_s and p.t <= soak.t_end and windows.at(p.t) is None]
        resources.append(
            {
                "run": i + 1,
                "pid": pid,
                "samples": len(mine),
                "steady_samples": len(steady),
                "steady_span_s": round(steady[-1].t - steady[0].t, 1) if steady else 0.0,
                "rss_mb": [mine[0].rss_mb, mine[-1].rss_mb] if mine else None,
                "rss_steady_mb": [steady[0].rss_mb, steady[-1].rss_mb] if steady else None,
                "rss_max_mb": max(p.rss_mb for p in mine) if mine else None,
                "fds_steady": [steady[0].fds, steady[-1].fds] if steady else None,
                "fds_range": [min(p.fds for p in mine), max(p.fds for p in mine)] if mine else None,
                "threads_steady": [steady[0].threads, steady[-1].threads] if steady else None,
                "rss_mb_per_h": _round(slope_per_hour([(p.t, p.rss_mb) for p in steady])),
                "fds_per_h": _round(slope_per_hour([(p.t, float(p.fds)) for p in steady])),
                "threads_per_h": _round(slope_per_hour([(p.t, float(p.threads)) for p in steady])),
                "rss_quiet_stretch_mb_per_h": [_round(q, 1) for q in _quiet_slopes(steady)],
                "rss_step_across_fault_mb": _rss_steps(soak, order, started, mine),
            }
        )
    return resources


def _quiet_slopes(steady: Sequence[ProcSample]) -> list[float | None]:
    """Between faults: the RSS slope of each quiet stretch (≥ 30 s) of steady samples."""
    stretches: list[list[ProcSample]] = []
    for p in steady:
        if stretches and p.t - stretches[-1][-1].t <= 3 * PROC_EVERY_S:
            stretches[-1].append(p)
        else:
            stretches.append([p])
    return [slope_per_hour([(p.t, p.rss_mb) for p in x]) for x in stretches if x[-1].t - x[0].t >= 30]


def _rss_steps(soak: Soak, order: Sequence[Fault], started: float, mine: Sequence[ProcSample]) -> dict[str, float]:
    """Across a fault: the step in RSS (median of the 15 s after its window against the 15 s before it)."""
    steps = {}
    for f in order:
        if f.started is None or f.window_end is None or not started <= f.started <= soak.t_end:
            continue
        before = [p.rss_mb for p in mine if f.started - 15 <= p.t < f.started]
        after = [p.rss_mb for p in mine if f.window_end < p.t <= f.window_end + 15]
        if before and after and f.kind != "appliance_kill":
            steps[f"{f.name}@{f.started - soak.t0:.0f}"] = round(
                statistics.median(after) - statistics.median(before), 1
            )
    return steps


def alert_figures(soak: Soak, store_alerts: Alerts, ok: Sequence[StatusSample]) -> dict[str, Any]:
    """Alerts: expected (stored) vs delivered (received by the hub)."""
    received = soak.hub.alerts()
    counts = Counter(str(body["id"]) for _, body in received)
    first_seen: dict[str, tuple[float, dict[str, Any]]] = {}
    for t, body in received:
        first_seen.setdefault(str(body["id"]), (t, body))
    stored_ids = set(store_alerts)
    unstored = sorted(set(counts) - stored_ids)
    disk_windows = [
        (f.started, (f.restored or f.started) + 10) for f in soak.faults if f.kind == "disk_full" and f.started
    ]
    unexplained = [a for a in unstored if not any(x <= first_seen[a][0] <= y for x, y in disk_windows)]
    online_s = {name: STATUS_EVERY_S * sum(1 for s in ok if s.cam(name)["online"]) for name in KINDS}
    clip_s = soak.person.seconds
    return {
        "stored": len(stored_ids),
        "delivered": len(counts),
        "lost": sorted(stored_ids - set(counts)),
        "received_twice": {a: n for a, n in counts.items() if n > 1},
        "delivered_not_stored_disk_full": [a for a in unstored if a not in unexplained],
        "delivered_not_stored_unexplained": unexplained,
        "same_object_different_ids": _twins(first_seen),
        "late": len([aid for aid, (_, body) in first_seen.items() if body.get("late")]),
        "per_camera": {name: sum(1 for a in store_alerts.values() if a["camera"] == name) for name in KINDS},
        "person_visits_online": {
            name: round(online_s[name] / clip_s, 1) for name, kind in KINDS.items() if kind == "person"
        },
    }


def _twins(first_seen: dict[str, tuple[float, dict[str, Any]]]) -> dict[str, list[str]]:
    """One object (camera, rule, first seen at) alerting under two ids would be a duplicate a hub cannot
    recognise; the id's format is not assumed."""
    by_object: dict[tuple[str, str, str], set[str]] = {}
    for aid, (_, body) in first_seen.items():
        by_object.setdefault((str(body["camera"]), str(body["rule"]), str(body["started_at"])), set()).add(aid)
    return {" ".join(key): sorted(ids) for key, ids in by_object.items() if len(ids) > 1}


def api_figures(soak: Soak, order: Sequence[Fault], windows: FaultWindows) -> dict[str, Any]:
    """The status polls and latest.jpg that failed outside the appliance's restart, login and disarm."""
    samples = soak.poller.samples
    api_down = [  # from a poller timeout before the SIGKILL (a request in flight then fails) to all up again
        (f.started - 3.0, f.started + (f.full_s or f.recovered_s or f.bound_s or 0) + 2)
        for f in order
        if f.kind == "appliance_kill" and f.started
    ]
    api_errors = [
        {"t": round(s.t - soak.t0, 1), "code": s.code, "error": s.error}
        for s in samples
        if not s.ok and not any(a <= s.t <= b for a, b in api_down)
    ]
    # latest.jpg: a JPEG, or 404 "no frame yet" while a fault is on (a restarted appliance has none yet).
    jpeg_bad = [
        j
        for j in soak.poller.jpegs
        if not any(a <= j[0] <= b for a, b in api_down)
        and not (j[2] == 200 and j[4])
        and not (j[2] == 404 and windows.at(j[0]))
    ]
    return {
        "status_samples": len(samples),
        "errors_outside_restart": api_errors[:50],
        "latest_jpg": len(soak.poller.jpegs),
        "latest_jpg_bad": jpeg_bad[:20],
        "login_status": soak.login_status,
        "disarm_status": soak.disarm_status,
    }


def privacy_figures(soak: Soak) -> dict[str, Any]:
    """The sockets sampled, the files and network calls traced, and what went over MQTT."""
    traces = soak.appliance.traces
    files = file_writes(traces, str(soak.storage)) if soak.appliance.strace else None
    remotes = {("127.0.0.1", int(c.port or 0)) for c in soak.cameras.values()} | {("127.0.0.1", soak.broker_port)}
    network = network_calls(traces, remotes, soak.api_port) if soak.appliance.strace else None
    return {
        "socket_samples": len(soak.sampler.samples),
        "socket_kinds_seen": dict(sum((Counter(p.sockets) for p in soak.sampler.samples), Counter())),
        "socket_violations": soak.sampler.violations[:50],
        "socket_violation_count": len(soak.sampler.violations),
        "files": files,
        "network": network,
        "mqtt_messages": len(soak.hub.messages),
        "mqtt_images": soak.hub.images[:20],
    }


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def fault_dict(f: Fault, t0: float) -> dict[str, Any]:
    d = asdict(f)
    d["name"] = f.name
    for key in ("started", "restored", "window_end"):
        d[key] = None if d[key] is None else round(d[key] - t0, 1)
    d["at"] = round(f.at, 1)
    return d
