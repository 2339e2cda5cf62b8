"""The soak harness' hold on the appliance process (bench/soak.py `Appliance`, issue 14).

A fresh machine's soak signalled pid 5188 while the appliance ran as 5191: under strace, the
harness took the first child of strace whose command line named the script — and before it
runs the command, strace forks short-lived children of its own to test the kernel (seccomp-bpf
filter order, ptrace options), with strace's command line, which names the script too. The
appliance never got its SIGTERM, strace was SIGKILLed after the stop timeout, and the
appliance, detached, went on holding the store.

Real processes throughout: the harness runs a small stand-in appliance (its pid and its
children's reported in a file, SIGTERM obeyed or ignored) under the real strace, and under a
stand-in strace that does deterministically what the real one does now and then on a busy
machine: a fork of itself, alive while the harness looks, before the command starts.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.waiting import wait_until
from tests.test_soak import soak_module

# The stand-in appliance: `APP --config FILE`, FILE saying how to behave ("obey" or "ignore"
# SIGTERM). It appends "PID CHILD" to FILE.pids once running (CHILD: a `sleep` it started in a
# process group of its own, or 0), then waits for a signal.
APP = """\
import os, signal, subprocess, sys, time
from pathlib import Path

config = Path(sys.argv[sys.argv.index("--config") + 1])
mode = config.read_text().strip()
child = 0
if mode == "ignore":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen(["sleep", "600"], process_group=0).pid
else:
    def on_term(signum, frame):
        print("stopped", flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, on_term)
with open(str(config) + ".pids", "a") as report:
    report.write(f"{os.getpid()} {child}\\n")
while True:
    time.sleep(1)  # a stand-in service: alive until signalled
"""

# A stand-in strace: `FAKE [options] -o TRACE COMMAND...`. Like strace, it forks a child of its
# own first (strace's kernel checks), then forks the tracee, which execs COMMAND ("run") or, with
# FAKE_STRACE_MODE=never, something else for good. It appends its pids to $FAKE_STRACE_PIDS.
FAKE_STRACE = """\
import os, sys, time

args = sys.argv[1:]
command = args[args.index("-o") + 2 :]
never = os.environ.get("FAKE_STRACE_MODE") == "never"
pids = [os.getpid()]
decoy = os.fork()
if decoy == 0:
    time.sleep(3)  # strace's own fork, still there while the harness looks
    os._exit(0)
pids.append(decoy)
time.sleep(1.0)  # like strace: the tracee comes a moment after its own fork
tracee = os.fork()
if tracee == 0:
    if never:
        os.execvp("sleep", ["sleep", "600"])
    os.execvp(command[0], command)
pids.append(tracee)
with open(os.environ["FAKE_STRACE_PIDS"], "a") as report:
    report.write(" ".join(map(str, pids)) + "\\n")
_, status = os.waitpid(tracee, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""


@pytest.fixture
def soak() -> Any:
    return soak_module()


def real_strace() -> str:
    found = shutil.which("strace")
    if found is None:
        pytest.fail("the soak runs the appliance under strace: apt-get install strace (deploy/packages-dev.txt)")
    return found


def stand_in(tmp_path: Path, mode: str) -> tuple[Path, Path]:
    """The stand-in appliance script and its config (telling it how to behave)."""
    script = tmp_path / "stand_in_app.py"
    script.write_text(APP)
    config = tmp_path / "config.txt"
    config.write_text(mode)
    return script, config


def fake_strace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str = "run") -> tuple[str, Path]:
    path = tmp_path / "fake-strace"
    path.write_text(f"#!{sys.executable}\n{FAKE_STRACE}")
    path.chmod(0o755)
    report = tmp_path / "fake-strace.pids"
    monkeypatch.setenv("FAKE_STRACE_PIDS", str(report))
    monkeypatch.setenv("FAKE_STRACE_MODE", mode)
    return str(path), report


def reported(path: Path, run: int) -> list[int]:
    """The pids a process wrote on its `run`-th line (1-based) of `path`, once it has."""
    assert wait_until(lambda: path.exists() and len(path.read_text().splitlines()) >= run, 20), path
    return [int(p) for p in path.read_text().splitlines()[run - 1].split()]


def gone(soak: Any, pids: list[int]) -> list[int]:
    """Those of `pids` still alive (zombies count as gone: they hold nothing)."""
    alive = []
    for pid in pids:
        stat = soak.proc_stat(pid)
        if stat is not None and stat.alive:
            alive.append(pid)
    return alive


def test_the_pid_is_the_process_that_runs_the_appliance_not_a_fork_of_strace(
    soak: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    strace, strace_pids = fake_strace(tmp_path, monkeypatch)
    script, config = stand_in(tmp_path, "obey")
    appliance = soak.Appliance(tmp_path, config, strace, script=script)
    try:
        pid = appliance.start()
        launcher, decoy, tracee = reported(strace_pids, 1)
        (own_pid, _child) = reported(Path(f"{config}.pids"), 1)
        assert decoy != tracee  # the stand-in strace did fork a decoy first
        assert pid == own_pid == tracee, (pid, own_pid, decoy)
        assert appliance.stop(timeout=10) == 0
    finally:
        appliance.close()
    assert "stopped" in appliance.logs[-1].read_text()  # the SIGTERM reached the appliance
    assert gone(soak, [launcher, decoy, tracee]) == []
    assert soak.session_members(launcher) == []


def test_under_the_real_strace_kill_restart_and_stop_reach_the_appliance_itself(soak: Any, tmp_path: Path) -> None:
    """The soak's own sequence: start, SIGKILL fault, restart at once, stop — several times, as a
    harness lookup that only sometimes picks strace's fork would fail some of them."""
    script, config = stand_in(tmp_path, "obey")
    appliance = soak.Appliance(tmp_path, config, real_strace(), script=script)
    pids = Path(f"{config}.pids")
    run = 0
    try:
        for _ in range(3):
            first = appliance.start()
            run += 1
            assert reported(pids, run)[0] == first
            appliance.kill()
            assert gone(soak, [first]) == []
            second = appliance.start()
            run += 1
            assert reported(pids, run)[0] == second
            assert appliance.stop(timeout=10) == 0, appliance.logs[-1].read_text()
            assert "stopped" in appliance.logs[-1].read_text()
            assert gone(soak, [second]) == []
    finally:
        appliance.close()
    # strace saw the harness' SIGTERM arrive at the appliance it traced
    assert f"--- SIGTERM {{si_signo=SIGTERM, si_code=SI_USER, si_pid={os.getpid()}," in appliance.traces[-1].read_text()


def test_stop_leaves_nothing_behind_when_the_appliance_ignores_sigterm(soak: Any, tmp_path: Path) -> None:
    script, config = stand_in(tmp_path, "ignore")
    appliance = soak.Appliance(tmp_path, config, real_strace(), script=script)
    try:
        pid = appliance.start()
        own_pid, child = reported(Path(f"{config}.pids"), 1)
        assert pid == own_pid
        assert child > 0
        session = soak.proc_stat(pid).sid
        assert soak.proc_stat(child).sid == session  # the child is of the run, in a group of its own
        assert appliance.stop(timeout=1) is None  # it had to be killed
    finally:
        appliance.close()
    assert gone(soak, [pid, child]) == []
    assert soak.session_members(session) == []


def test_a_start_whose_appliance_never_appears_fails_and_leaves_nothing_behind(
    soak: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    strace, strace_pids = fake_strace(tmp_path, monkeypatch, mode="never")
    script, config = stand_in(tmp_path, "obey")
    appliance = soak.Appliance(tmp_path, config, strace, script=script, find_timeout=2.0)
    with pytest.raises(RuntimeError, match="did not start under strace"):
        appliance.start()
    launcher, decoy, tracee = reported(strace_pids, 1)
    assert gone(soak, [launcher, decoy, tracee]) == []
    assert appliance.pid is None
    assert appliance.stop() is None


def test_signals_reach_the_live_appliance_and_none_is_sent_once_it_is_gone(soak: Any, tmp_path: Path) -> None:
    script, config = stand_in(tmp_path, "obey")
    appliance = soak.Appliance(tmp_path, config, None, script=script)
    try:
        appliance.start()
        assert appliance.signal(signal.SIGCONT)  # harmless, and delivered
        appliance.kill()
        assert not appliance.signal(signal.SIGTERM)  # gone: nothing is signalled
        assert appliance.stop() is None
    finally:
        appliance.close()
