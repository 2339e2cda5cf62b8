"""Event clips on request: the event's indexed segments joined by `app.record.build_clip`, cached.

A clip is built once per event and kept in `<storage.path>/clips/` (0700, files 0600)
while it is among the `MAX_CLIPS` most recently asked for. A finished clip is served as
it is; a partial one (the event, or its post-capture, is still being recorded) is rebuilt
when a newer segment has been indexed since, so asking again gives a longer clip. Each
build gets a new file name, and the previous build is deleted only at the next one, so a
response still streaming (or a browser's next `Range` request) keeps a whole file.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from app.domain import Event
from app.record import Clip, NoFootage, build_clip
from app.store import Store
from app.store.snapshots import make_private_dir, snapshot_name

CLIPS = "clips"
MAX_CLIPS = 4  # cached clips (a 30 s 720p clip is 5-20 MB; they are not counted in storage.max_mb)


@dataclass(frozen=True, slots=True)
class ServedClip:
    path: Path
    partial: bool  # the event is still being recorded: ask again later for more
    size: int


@dataclass(frozen=True, slots=True)
class _Cached:
    clip: Clip
    partial: bool
    signature: tuple[int, float]  # (segments, latest end) it was built from
    older: Path | None  # the previous build, deleted at the next one


class ClipCache:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._folder = store.root / CLIPS
        self._lock = threading.Lock()
        self._cached: OrderedDict[str, _Cached] = OrderedDict()
        self._serial = itertools.count()
        make_private_dir(self._folder)
        for stale in self._folder.glob("*.mp4*"):  # the previous run's: nothing refers to them any more
            stale.unlink(missing_ok=True)

    def get(self, event: Event, window: tuple[float, float], *, recording: bool) -> ServedClip:
        """The event's clip over `window` (wall clock); NoFootage when no segment overlaps it.

        `recording`: the event's footage may still grow (the event is open or its post-capture
        has not passed yet). RecordError when a segment cannot be read or the clip written.
        """
        start, end = window
        segments = self._store.footage.segments(event.camera, start, end)
        if not segments:
            raise NoFootage("no footage was recorded for this event, or it has been deleted")
        signature = (len(segments), max(s.end for s in segments))
        with self._lock:
            cached = self._cached.get(event.id)
            if cached is not None and cached.signature == signature and cached.clip.path.is_file():
                self._cached.move_to_end(event.id)
                return ServedClip(cached.clip.path, cached.partial, cached.clip.size)
            stem = snapshot_name(event.id).removesuffix(".jpg")
            out = self._folder / f"{stem}-{next(self._serial)}.mp4"
            clip = build_clip(segments, start, end, out)
            partial = recording  # the footage so far: asking again later gives more
            if cached is not None and cached.older is not None:
                cached.older.unlink(missing_ok=True)
            self._cached[event.id] = _Cached(clip, partial, signature, None if cached is None else cached.clip.path)
            self._cached.move_to_end(event.id)
            while len(self._cached) > MAX_CLIPS:
                _, dropped = self._cached.popitem(last=False)
                for path in (dropped.clip.path, dropped.older):
                    if path is not None:
                        with contextlib.suppress(OSError):
                            path.unlink()
            return ServedClip(clip.path, partial, clip.size)
