"""Crash safety: SIGKILL mid-segment, and half-written files cut anywhere, leave only playable segments."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from app.record import recover
from app.record.recover import complete_length
from tests.record.conftest import record
from tests.record.media import ORIGIN, Source, frame_indices, packets, top_boxes

ROOT = Path(__file__).resolve().parents[2]


def test_sigkill_mid_segment_loses_at_most_that_segments_last_gop(source: Source, tmp_path: Path) -> None:
    folder = tmp_path / "porch"
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.record.crash_writer", str(source.path), str(folder)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    finished: dict[Path, str] = {}
    try:
        assert child.stdout is not None
        for line in child.stdout:
            kind, *rest = line.split()
            if kind == "segment":
                finished[Path(rest[0])] = rest[1]
            elif kind == "packet" and int(rest[0]) == 48 + 30:  # the second segment (frames 48..) is 2.6 GOPs in
                break
        else:
            pytest.fail("the writer ended before it was killed")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    assert len(finished) == 1  # frames 0..47

    parts = list(folder.rglob("*.part"))
    assert len(parts) == 1  # the segment being written, under its temporary name only
    result = recover(folder, "porch")

    assert not list(folder.rglob("*.part"))
    assert not result.removed
    (repaired,) = result.repaired
    # Its two complete GOPs (frames 48..71) survive; the third, still in the muxer's memory, is lost.
    assert frame_indices(repaired.path) == list(range(48, 72))
    assert repaired.start == pytest.approx(ORIGIN + 4.0)
    assert repaired.end == pytest.approx(ORIGIN + 6.0)
    assert repaired.frames == 24
    for path, digest in finished.items():  # the earlier segments are untouched, and play
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    finals = sorted(folder.rglob("*.mp4"))
    assert len(finals) == 2
    assert [i for path in finals for i in frame_indices(path)] == list(range(72))


def _mdat_ends(data: bytes) -> list[int]:
    ends, pos = [], 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        pos += size
        if data[pos - size + 4 : pos - size + 8] == b"mdat":
            ends.append(pos)
    return ends


def test_a_segment_cut_anywhere_is_repaired_to_its_whole_gops_or_removed(source: Source, tmp_path: Path) -> None:
    (segment,) = record(packets(source.path)[:60], tmp_path / "src", target=10.0)  # 5 GOPs, 5 fragments
    data = segment.path.read_bytes()
    assert top_boxes(segment.path)[:3] == ["ftyp", "moov", "moof"]
    ends = _mdat_ends(data)
    assert len(ends) == 5
    cuts = sorted(
        {*range(0, len(data), max(1, len(data) // 23)), *ends, *(e - 1 for e in ends), *(e + 9 for e in ends)}
    )
    for n, cut in enumerate(cut for cut in cuts if cut < len(data)):
        folder = tmp_path / f"cut{n}"
        hour = folder / "2023-11-14" / "22"
        hour.mkdir(parents=True)
        part = hour / "1700000000000.mp4.part"
        part.write_bytes(data[:cut])
        whole = sum(1 for e in ends if e <= cut)  # fragments complete before the cut

        assert complete_length(part) == (max(e for e in ends if e <= cut) if whole else 0)
        result = recover(folder, "porch")

        assert not list(folder.rglob("*.part")), cut
        if whole == 0:
            assert result.removed == (part,)
            assert not result.repaired
            assert not list(folder.rglob("*.mp4")), cut
        else:
            (repaired,) = result.repaired
            assert frame_indices(repaired.path) == list(range(12 * whole)), cut
            assert repaired.frames == 12 * whole
            assert repaired.end == pytest.approx(ORIGIN + whole, abs=1e-3)


def test_zeros_where_data_never_reached_the_disk_are_cut_off(source: Source, tmp_path: Path) -> None:
    """A power cut can leave the file's length but not its last blocks: zeros from a page on."""
    (segment,) = record(packets(source.path)[:60], tmp_path / "src", target=10.0)
    data = bytearray(segment.path.read_bytes())
    ends = _mdat_ends(bytes(data))
    zero_from = ends[2] + 100  # inside fragment 4's moof
    data[zero_from:] = bytes(len(data) - zero_from)
    folder = tmp_path / "porch"
    folder.mkdir()
    (folder / "1700000000000.mp4.part").write_bytes(bytes(data))
    (repaired,) = recover(folder, "porch").repaired
    assert frame_indices(repaired.path) == list(range(36))
    assert repaired.path.stat().st_size == ends[2]


def test_files_not_ours_and_empty_parts(tmp_path: Path) -> None:
    folder = tmp_path / "porch"
    folder.mkdir()
    (folder / "1700000000000.mp4.part").write_bytes(b"")
    (folder / "notes.txt").write_text("kept")
    result = recover(folder, "porch")
    assert [p.name for p in result.removed] == ["1700000000000.mp4.part"]
    assert sorted(os.listdir(folder)) == ["notes.txt"]
    assert recover(tmp_path / "missing", "porch").repaired == ()
