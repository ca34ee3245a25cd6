"""Settings a user may push to a camera: validated here, sent as one JSON text message.

The firmware (firmware/main/control.c) applies and saves what it accepts and answers with
``{"type": "config_ack", "applied": {...}, "rejected": {...}}``, kept for /status.
"""

from __future__ import annotations

FRAME_SIZES = ("96X96", "QQVGA", "128X128", "QCIF", "HQVGA", "240X240", "QVGA", "320X320", "CIF",
               "HVGA", "VGA", "SVGA", "XGA", "HD", "SXGA", "UXGA", "FHD", "P_HD", "P_3MP", "QXGA")


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


# -- what a camera tells us -------------------------------------------------------------------
# A camera's hello and config_ack are kept for /status and the pages, so only known fields of
# bounded size are kept: a peer must not be able to store megabytes or deep structures with us.

_HELLO_FIELDS = {"camera_id": str, "name": str, "board": str, "sensor": str, "width": int,
                 "height": int, "fps": (int, float), "quality": int, "firmware": str,
                 "framesize": str, "vflip": bool, "hmirror": bool}
_TEXT_LIMIT = 64


def _scalar(value: object, types) -> bool:
    if isinstance(value, bool):  # bool is an int to Python, not to a camera's settings
        return types is bool
    return isinstance(value, types) and not (isinstance(value, str) and len(value) > _TEXT_LIMIT)


def _range(value: object) -> dict | None:
    if isinstance(value, dict) and set(value) == {"min", "max"} and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value.values()):
        return {"min": value["min"], "max": value["max"]}
    return None


def _choices(value: object) -> dict:
    """The settings a camera says it accepts (see README, camera protocol)."""
    if not isinstance(value, dict):
        return {}
    choices: dict = {}
    sizes = value.get("framesize")
    if isinstance(sizes, list):
        choices["framesize"] = [s for s in sizes[:len(FRAME_SIZES)]
                                if isinstance(s, str) and s.upper() in FRAME_SIZES]
    for key in ("quality", "fps"):
        if (allowed := _range(value.get(key))) is not None:
            choices[key] = allowed
    for key in ("vflip", "hmirror"):
        if value.get(key) in ([False, True], [True, False]):
            choices[key] = [False, True]
    return choices


def hello_from_message(data: dict) -> dict:
    """The parts of a camera's hello worth keeping, bounded in size."""
    hello = {k: v for k, v in data.items()
             if k in _HELLO_FIELDS and _scalar(v, _HELLO_FIELDS[k])}
    if "choices" in data:
        hello["choices"] = _choices(data["choices"])
    return hello


def ack_from_message(data: dict) -> dict:
    """A camera's config_ack, bounded: which settings it applied (with their values) and which
    it rejected (with its reason, clipped)."""
    def table(value, keep) -> dict:
        if not isinstance(value, dict):
            return {}
        return {k[:_TEXT_LIMIT]: keep(v) for k, v in list(value.items())[:16]
                if isinstance(k, str) and keep(v) is not None}

    def setting(v):
        return v if isinstance(v, (bool, int, float)) or (isinstance(v, str) and len(v) <= 64) \
            else None

    def reason(v):
        return v[:200] if isinstance(v, str) else None

    return {"applied": table(data.get("applied"), setting),
            "rejected": table(data.get("rejected"), reason)}
