"""Event footage: camera packets stream-copied into short MP4 segments, joined into clips on request.

    capture ──Packet──▶ CameraRecorder ─┬─▶ PreCapture (memory, bounded)
                                        └─▶ SegmentWriter ──▶ <folder>/<date>/<hour>/<ms>.mp4 ──Segment──▶ store
    MJPEG/V4L2 frames ──▶ FrameEncoder ──Packet──▶ (the same)
    Segments ──▶ build_clip ──▶ faststart MP4 (Clip)          on start: recover(folder) repairs *.part

Modules: `values` (the frozen types that cross the boundary), `ring` (pre-capture),
`segments` (the writer), `recorder` (ring + writer per camera), `encoder` (H.264 for
uncompressed cameras), `clip` (joining and trimming), `recover` (after a crash), `files`
(names and permissions), `nal` (parameter sets, pure bytes) and `mux`, the only module
that imports PyAV.
"""

from app.record.clip import NoFootage, build_clip, same_parameters
from app.record.encoder import FrameEncoder
from app.record.recorder import CameraRecorder, Mode
from app.record.recover import Recovery, probe, recover
from app.record.ring import PreCapture
from app.record.segments import SegmentSink, SegmentWriter
from app.record.values import Clip, Codec, Packet, RecordError, Segment, StreamInfo, as_codec

__all__ = [
    "CameraRecorder",
    "Clip",
    "Codec",
    "FrameEncoder",
    "Mode",
    "NoFootage",
    "Packet",
    "PreCapture",
    "RecordError",
    "Recovery",
    "Segment",
    "SegmentSink",
    "SegmentWriter",
    "StreamInfo",
    "as_codec",
    "build_clip",
    "probe",
    "recover",
    "same_parameters",
]
