"""The printed report: what the run saw, section by section, and the checks."""

from __future__ import annotations

from typing import Any


def report(r: dict[str, Any]) -> None:
    _machine(r)
    _alerts(r["alerts"])
    _faults(r["faults"])
    _fps(r["fps"])
    _resources(r["resources"])
    _privacy(r["privacy"])
    _api_and_stop(r)
    print("\nchecks:")
    for name, c in r["checks"].items():
        print(f"    {'ok  ' if c['ok'] else 'FAIL'} {name}: {c['detail']}")


def _machine(r: dict[str, Any]) -> None:
    print(
        f"\nmachine: {r['machine']}; {r['duration_s']:.0f} s soak; machine {r['machine_busy_pct']} % busy "
        f"(100 % = one core; appliance, cameras, broker, soak)"
    )
    print(
        f"strace on the appliance: {'yes' if r['strace'] else 'NO'}; storage on a tmpfs: "
        f"{'yes' if r['tmpfs'] else 'NO (' + str(r['tmpfs_note']) + ')'}"
    )


def _alerts(a: dict[str, Any]) -> None:
    print(
        f"\nalerts: {a['stored']} stored (expected), {a['delivered']} delivered (distinct ids), "
        f"{len(a['lost'])} lost, {len(a['received_twice'])} received twice (same id), {a['late']} marked late"
    )
    print(
        f"    per camera stored: {a['per_camera']}; person visits while online (clip loops): "
        f"{a['person_visits_online']}"
    )
    if a["delivered_not_stored_disk_full"]:
        print(
            f"    delivered but not stored (store refused them while the disk was full): "
            f"{len(a['delivered_not_stored_disk_full'])}"
        )
    for key in ("lost", "delivered_not_stored_unexplained", "same_object_different_ids"):
        if a[key]:
            print(f"    {key}: {a[key]}")


def _faults(faults: list[dict[str, Any]]) -> None:
    print("\nfault                 at s   held s  shown after s  recovered s  bound s  notes")
    for f in faults:
        if f["skipped"]:
            print(f"{f['name']:<20} {f['at']:>6.0f}   SKIPPED: {f['skipped']}")
            continue
        rec = "-" if f["recovered_s"] is None else f"{f['recovered_s']:.1f}"
        det = "-" if f["detected_s"] is None else f"{f['detected_s']:.1f}"
        notes = {k: v for k, v in f["notes"].items() if k != "detection_bound_s"}
        if f["full_s"] is not None:
            notes["all up again after s"] = f["full_s"]
        print(
            f"{f['name']:<20} {f['started']:>6.1f} {f['hold']:>8.0f} {det:>14} {rec:>12} {f['bound_s']:>8.1f}  "
            f"{notes or ''}"
        )


def _fps(fps: dict[str, Any]) -> None:
    print("\nfps detect (target 5) outside fault windows, per camera: mean / p5 (samples); during other faults")
    for cam, v in fps.items():
        print(f"    {cam}: {v['mean']} / {v['p5']} ({v['samples']}); {v['during_other_faults']}")


def _resources(resources: list[dict[str, Any]]) -> None:
    print("\nappliance resources per run (steady: all up, no fault, after warm-up)")
    for x in resources:
        print(
            f"    run {x['run']} (pid {x['pid']}): RSS first/last {x['rss_mb']} MB, steady {x['rss_steady_mb']} MB, "
            f"max {x['rss_max_mb']} MB, slope {x['rss_mb_per_h']} MB/h; fds steady {x['fds_steady']} "
            f"(range {x['fds_range']}), slope {x['fds_per_h']}/h; threads steady {x['threads_steady']}, "
            f"slope {x['threads_per_h']}/h; {x['steady_samples']} steady samples over {x['steady_span_s']:.0f} s"
        )
        print(
            f"        RSS slope within each quiet stretch (MB/h): {x['rss_quiet_stretch_mb_per_h']}; "
            f"RSS step across each fault (MB): {x['rss_step_across_fault_mb']}"
        )


def _privacy(p: dict[str, Any]) -> None:
    print(
        f"\nprivacy: {p['socket_samples']} socket samples; sockets seen (sample-count): {p['socket_kinds_seen']}; "
        f"{p['socket_violation_count']} violations"
    )
    for v in p["socket_violations"][:10]:
        print(f"    {v}")
    if p["files"] is not None:
        _files(p["files"])
    if p["network"] is not None:
        _network(p["network"])
    print(f"    MQTT: {p['mqtt_messages']} messages to the hub, {len(p['mqtt_images'])} images")


def _files(files: dict[str, Any]) -> None:
    print(
        f"    files (strace): {files['calls']} traced calls, {files['writes_inside']} writes in storage.path, "
        f"{len(files['violations'])} outside"
    )
    for key, n in files["allowed"].items():
        print(f"    allowed x{n}: {key}")
    for v in files["violations"][:20]:
        print(f"    OUTSIDE: {v}")


def _network(net: dict[str, Any]) -> None:
    print(
        f"    network (strace, every call): {net['calls']}; connects to {net['peers']}; local {net['local']}; "
        f"{len(net['violations'])} violations"
    )
    for v in net["violations"][:20]:
        print(f"    NETWORK: {v}")


def _api_and_stop(r: dict[str, Any]) -> None:
    api = r["api"]
    print(
        f"\nAPI: {api['status_samples']} status polls, {api['latest_jpg']} latest.jpg; errors outside the restart: "
        f"{len(api['errors_outside_restart'])}; bad latest.jpg: {len(api['latest_jpg_bad'])}"
    )
    print(f"storage used (status, first → last): {r['storage_used_mb']} MB")
    s = r["stop"]
    print(
        f"stop: outbox drained in {s['drain_s']} s, exit code {s['exit_code']}, integrity {s['integrity']}, "
        f"{s['runs']} appliance runs"
    )
