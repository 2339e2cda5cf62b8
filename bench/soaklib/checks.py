"""The verdicts: each check ok or not, and what it saw."""

from __future__ import annotations

from typing import Any

from soaklib.scene import DETECT_FPS, KINDS

# Between two steady moments (every camera up, broker connected, no fault) the appliance holds the same
# sockets and database handles: the same fd count, give or take a reader connection the store opens on
# demand (3 fds: db, -wal, -shm) and one API client connection.
MAX_FD_GROWTH = 4
# RSS between two steady moments of one run: what a replugged TPU costs (a fresh model and its arena,
# while the old one is released) plus the allocator's retention; see bench/RESULTS.md for the figures.
MAX_RSS_GROWTH_MB = 40.0


def checks(r: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each check: ok and what it saw. Bounds for growth are for the steady samples of the longest run."""
    out: dict[str, dict[str, Any]] = {}

    def check(name: str, ok: bool, detail: Any) -> None:
        out[name] = {"ok": bool(ok), "detail": detail}

    a = r["alerts"]
    check(
        "alerts_fired",
        sum(a["per_camera"][c] for c, k in KINDS.items() if k == "person") >= 2,
        f"{a['stored']} stored: without alerts 'none lost' would prove nothing",
    )
    check("no_alert_lost", not a["lost"], a["lost"] or f"all {a['stored']} stored alerts delivered")
    check(
        "duplicates_only_same_id",
        not a["same_object_different_ids"] and not a["delivered_not_stored_unexplained"],
        {
            "twins": a["same_object_different_ids"],
            "unexplained": a["delivered_not_stored_unexplained"],
            "same id twice (allowed)": len(a["received_twice"]),
        },
    )
    slow = []
    for f in r["faults"]:
        if f["skipped"]:
            continue
        if f["recovered_s"] is None or f["recovered_s"] > f["bound_s"]:
            slow.append(f"{f['name']}: recovered {f['recovered_s']} s > bound {f['bound_s']} s")
        det = f["notes"].get("detection_bound_s")
        if det is not None and (f["detected_s"] is None or f["detected_s"] > det):
            slow.append(f"{f['name']}: shown after {f['detected_s']} s > bound {det} s")
    check("faults_recovered", not slow, slow or "every fault shown and recovered within its bound")
    p = r["privacy"]
    check(
        "privacy_sockets",
        p["socket_samples"] > 0 and p["socket_violation_count"] == 0,
        p["socket_violations"][:5] or f"{p['socket_samples']} samples: {p['socket_kinds_seen']}",
    )
    files = p["files"]
    if files is not None:
        check(
            "privacy_files",
            files["writes_inside"] > 0 and not files["violations"],
            files["violations"][:10]
            or f"{files['writes_inside']} writes, all in storage.path; allowed: {files['allowed']}",
        )
    net = p["network"]
    if net is not None:
        check(
            "privacy_network_trace",
            net["calls"].get("connect", 0) > 0 and not net["violations"],
            net["violations"][:10] or f"connects to {net['peers']}; local: {net['local']}",
        )
    check("privacy_mqtt_no_images", not p["mqtt_images"], p["mqtt_images"] or f"{p['mqtt_messages']} messages")
    api = r["api"]
    check(
        "api_answers",
        not api["errors_outside_restart"]
        and not api["latest_jpg_bad"]
        and api["login_status"] == 204
        and api["disarm_status"] in (200, 204),
        {k: api[k] for k in ("errors_outside_restart", "latest_jpg_bad", "login_status", "disarm_status")},
    )
    fps_low = {c: v["mean"] for c, v in r["fps"].items() if v["mean"] is None or v["mean"] < 0.9 * DETECT_FPS}
    check("fps_held", not fps_low, fps_low or {c: v["mean"] for c, v in r["fps"].items()})
    runs = [x for x in r["resources"] if x["steady_samples"] >= 10]
    longest = max(runs, key=lambda x: x["steady_span_s"], default=None)
    if longest is None:
        check("no_growth", False, "no run had 10 steady samples")
    else:
        fd0, fd1 = longest["fds_steady"]
        rss0, rss1 = longest["rss_steady_mb"]
        check(
            "no_growth",
            fd1 - fd0 <= MAX_FD_GROWTH and rss1 - rss0 <= MAX_RSS_GROWTH_MB,
            f"run {longest['run']} over {longest['steady_span_s']:.0f} s steady: fds {fd0} → {fd1} "
            f"(≤ +{MAX_FD_GROWTH}), RSS {rss0} → {rss1} MB (≤ +{MAX_RSS_GROWTH_MB})",
        )
    check("no_unexpected_exit", not r["unexpected_exits"], r["unexpected_exits"] or "only the planned SIGKILL")
    stop = r["stop"]
    check("clean_stop", stop["exit_code"] == 0 and stop["drain_s"] is not None and stop["integrity"] == "ok", stop)
    return out
