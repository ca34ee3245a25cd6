"""Settings a user may push to a camera: validated here, sent as one JSON text message.

The firmware (firmware/main/control.c) applies and saves what it accepts and answers with
``{"type": "config_ack", "applied": {...}, "rejected": {...}}``, kept for /status.
"""

from __future__ import annotations

FRAME_SIZES = ("96X96", "QQVGA", "128X128", "QCIF", "HQVGA", "240X240", "QVGA", "320X320", "CIF",
               "HVGA", "VGA", "SVGA", "XGA", "HD", "SXGA", "UXGA", "FHD", "QXGA")


class ControlError(ValueError):
    pass


def config_message(request: object) -> dict:
    """Check a requested change; return the message for the camera or raise ControlError."""
    if not isinstance(request, dict) or not request:
        raise ControlError("expected a JSON object with any of: framesize, quality, fps, "
                           "vflip, hmirror")
    message: dict = {"type": "config"}
    for key, value in request.items():
        if key == "framesize":
            if not isinstance(value, str) or value.upper() not in FRAME_SIZES:
                raise ControlError(f"framesize must be one of {', '.join(FRAME_SIZES)}")
            message[key] = value.upper()
        elif key in ("quality", "fps"):
            low, high = (1, 100) if key == "quality" else (1, 30)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ControlError(f"{key} must be an integer from {low} to {high}")
            message[key] = value
        elif key in ("vflip", "hmirror"):
            if not isinstance(value, bool):
                raise ControlError(f"{key} must be true or false")
            message[key] = value
        else:
            raise ControlError(f"unknown setting {key!r}")
    return message
