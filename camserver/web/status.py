"""``/status`` (JSON) and ``/metrics`` (Prometheus text): the same figures, two shapes."""

from __future__ import annotations

from ..services import Services


def status(services: Services) -> dict:
    cameras = [stream.status() for stream in services.registry.streams.values()]
    if services.recordings is not None:
        for camera in cameras:
            camera["recording"] = services.recordings.camera_status(camera["id"])
    for camera in cameras:
        if services.restreams is not None:
            camera["restream"] = services.restreams.camera_status(camera["id"])
        if services.hls is not None:
            camera["hls"] = services.hls.camera_status(camera["id"])
    return {
        "camera_clients": services.cameras.connections,
        "viewer_clients": sum(c["viewers"] for c in cameras),
        "streaming": any(c["online"] and c["frames_encoded"] for c in cameras),
        "encoder": services.encoder_name,
        "cameras": cameras,
        "server": services.server_status(),
    }


# name, type, help, key in CameraStream.status(); exposition format written by hand: it is a
# dozen lines of text and saves a dependency.
_METRICS = (
    ("camserver_camera_online", "gauge", "1 while the camera is connected", "online"),
    ("camserver_frames_received_total", "counter", "JPEG frames accepted", "frames_in"),
    ("camserver_frames_encoded_total", "counter", "H.264 frames produced", "frames_encoded"),
    ("camserver_frames_dropped_total", "counter", "frames rejected or dropped", "frames_dropped"),
    ("camserver_fps", "gauge", "frames per second received", "fps"),
    ("camserver_video_kbps", "gauge", "H.264 MPEG-TS bitrate", "kbps"),
    ("camserver_bytes_sent_total", "counter", "bytes sent to viewers", "bytes_out"),
    ("camserver_viewers", "gauge", "connected viewers", "viewers"),
    ("camserver_server_delay_p50_ms", "gauge", "median server-added delay",
     "server_delay_ms_p50"),
    ("camserver_server_delay_p99_ms", "gauge", "99th percentile server-added delay",
     "server_delay_ms_p99"),
    ("camserver_encoder_delay_p50_ms", "gauge",
     "median of FFmpeg's share of the server-added delay", "encoder_delay_ms_p50"),
    ("camserver_encoder_starts_total", "counter", "FFmpeg starts", "encoder_starts"),
)


_SERVER_METRICS = (
    ("camserver_viewers_total", "gauge", "viewers connected, all cameras", "viewers"),
    ("camserver_viewers_refused_total", "counter", "viewers refused by the viewer limits",
     "viewers_refused"),
    ("camserver_viewers_dropped_stalled_total", "counter",
     "viewers dropped for taking no data", "viewers_dropped_stalled"),
    ("camserver_loop_lag_max_ms", "gauge",
     "longest event-loop delay in the last minute (the server's own overload)",
     "loop_lag_max_ms"),
    ("camserver_loop_stalls_total", "counter", "event-loop delays over 100 ms",
     "loop_stalls_total"),
)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus_text(services: Services) -> str:
    report = status(services)
    cameras = report["cameras"]
    lines = ["# HELP camserver_camera_clients connected cameras",
             "# TYPE camserver_camera_clients gauge",
             f"camserver_camera_clients {report['camera_clients']}"]
    for name, kind, help_text, key in _SERVER_METRICS:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}",
                  f"{name} {float(report['server'][key]):g}"]
    for name, kind, help_text, key in _METRICS:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        for camera in cameras:
            value = camera[key]
            if value is not None:
                lines.append(f'{name}{{camera="{camera["id"]}"}} {float(value):g}')
    lines += ["# HELP camserver_frames_dropped_by_reason_total frames not encoded, by reason",
              "# TYPE camserver_frames_dropped_by_reason_total counter"]
    for camera in cameras:
        reasons = {**{f"rejected:{k}": v for k, v in camera["frames_rejected_by_reason"].items()},
                   **camera["frames_dropped_by_reason"]}
        for reason, count in sorted(reasons.items()):
            lines.append(f'camserver_frames_dropped_by_reason_total{{camera="{camera["id"]}",'
                         f'reason="{_label(reason)}"}} {count}')
    text = "\n".join(lines) + "\n"
    if services.recordings is not None:
        text += services.recordings.metrics_text()
    for part in (services.restreams, services.hls):
        if part is not None:
            text += part.metrics_text()
    return text
