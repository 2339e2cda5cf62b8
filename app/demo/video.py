"""Encoding synthesized frames: H.264 in MP4 through PyAV's libx264, and raw Annex-B copies.

The settings (yuv420p, main profile, one slice per frame, `tune=grain,zerolatency` so
there are no B-frames and the noise survives, crf 23, a keyframe every second) are the
demo's and the tests' clips'. PyAV is imported only when a clip is encoded: it is a
development and set-up dependency.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

from app.demo.compose import ClipError, Image


def encode_mp4(frames: Iterable[Image], path: Path, fps: int, size: tuple[int, int]) -> int:
    """Encode BGR frames to H.264 in MP4 (keyframe every second, no B-frames). Returns the frame count."""
    import av

    width, height = size
    count = 0
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.codec_context.gop_size = fps
        stream.codec_context.options = {
            "preset": "veryfast",
            # zerolatency: no B-frames, no lookahead. grain: keep the sensor noise (zerolatency
            # alone smooths it away in P-frames and lets it pulse back at every keyframe).
            "tune": "grain,zerolatency",
            "profile": "main",
            "crf": "23",
            # One slice per frame: zerolatency's sliced threads cut each frame into one slice
            # per core, and over GStreamer's RTSP server to OpenCV/FFmpeg the first slice of
            # every frame was lost (the top of the picture smeared). Frame threads instead.
            "x264-params": f"keyint={fps}:min-keyint={fps}:scenecut=0:sliced-threads=0",
        }
        for image in frames:
            if image.shape[:2] != (height, width):
                raise ClipError(f"frame {count} is {image.shape[1]}x{image.shape[0]}, the clip is {width}x{height}")
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = count
            frame.time_base = Fraction(1, fps)
            out.mux(stream.encode(frame))
            count += 1
        out.mux(stream.encode(None))
    return count


def mp4_to_annexb(mp4: Path, out: Path) -> None:
    """Copy an MP4's H.264 stream to a raw Annex-B file (SPS/PPS before every keyframe).

    The same as `ffmpeg -i clip.mp4 -c copy -bsf:v h264_mp4toannexb -f h264 clip.h264`:
    the raw `h264` muxer inserts the `h264_mp4toannexb` filter itself.
    """
    import av

    with av.open(str(mp4), "r") as src, av.open(str(out), "w", format="h264") as dst:
        video = src.streams.video[0]
        if video.codec_context.name != "h264":
            raise ClipError(f"{mp4}: the video is {video.codec_context.name}, not H.264")
        copy = dst.add_stream_from_template(video)
        for packet in src.demux(video):
            if packet.dts is None:  # the demuxer's end-of-stream flush
                continue
            packet.stream = copy
            dst.mux(packet)


def write_video(
    frames: Iterable[Image], path: Path, fps: int, size: tuple[int, int], annexb: Path | str | None
) -> Path | None:
    """The frames as an MP4 at `path`, and as raw Annex-B at `annexb` too when asked (the RTSP
    test camera's input); returns the Annex-B path."""
    encode_mp4(frames, path, fps, size)
    if annexb is None:
        return None
    out = Path(annexb)
    out.parent.mkdir(parents=True, exist_ok=True)
    mp4_to_annexb(path, out)
    return out
