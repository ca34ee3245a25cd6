"""A cheap motion detector on the camera's JPEGs. Pure: JPEG bytes in, a score out.

Each JPEG is decoded in Pillow's draft mode: the JPEG decoder scales by 1/8 in the DCT, so a
640x480 frame comes out 80x60 in grey for about 0.9 ms (a full decode is ~3 ms). The picture is
compared with a running background (each picture moves it 20% of the way; slow changes such as
daylight blend in, sudden ones stand out). The score is the fraction of the unmasked pixels
that differ from the background by more than a threshold; motion is a score over another.
Both thresholds come from the sensitivity (0-1):

=========== ================= ==========================
sensitivity pixel difference  changed area (of unmasked)
=========== ================= ==========================
1           12 of 255         0.2%
0.5         31                2.2%
0           50                8.2%
=========== ================= ==========================

Masks are rectangles (x, y, w, h, fractions of the frame) whose changes are ignored (a busy
street, a clock, a tree).
"""

from __future__ import annotations

import io
from typing import Sequence

from PIL import Image, ImageChops, ImageDraw

#: The background moves this fraction of the way to each new picture.
LEARN = 0.2
#: Pictures are decoded to at most this width (draft mode picks the 1/2, 1/4 or 1/8 scale).
WIDTH = 80


class MotionDetector:
    def __init__(self, sensitivity: float = 0.5,
                 masks: Sequence[tuple[float, float, float, float]] = ()):
        self.sensitivity = sensitivity
        self.pixel_threshold = round(12 + (1 - sensitivity) * 38)
        self.area_threshold = 0.002 + (1 - sensitivity) ** 2 * 0.08
        self.masks = tuple(masks)
        self._background: Image.Image | None = None
        self._mask: Image.Image | None = None
        self._counted = 0
        self._lut = [255 if v > self.pixel_threshold else 0 for v in range(256)]

    def score(self, jpeg: bytes) -> float | None:
        """The fraction of unmasked pixels that changed (0-1), or None while learning (the first
        picture, or the first after a size change). Raises OSError/ValueError on a JPEG Pillow
        cannot decode."""
        picture = Image.open(io.BytesIO(jpeg))
        picture.draft("L", (max(1, picture.width // 8), max(1, picture.height // 8)))
        picture = picture.convert("L")
        if picture.width > WIDTH:
            picture = picture.resize((WIDTH, max(1, picture.height * WIDTH // picture.width)))
        if self._background is None or self._background.size != picture.size:
            self._background = picture
            self._mask = self._make_mask(picture.size)
            self._counted = self._mask.histogram()[255]
            return None
        changed = ImageChops.difference(picture, self._background).point(self._lut)
        changed = ImageChops.darker(changed, self._mask)
        self._background = Image.blend(self._background, picture, LEARN)
        if not self._counted:
            return 0.0
        return changed.histogram()[255] / self._counted

    def is_motion(self, score: float | None) -> bool:
        return score is not None and score >= self.area_threshold

    def _make_mask(self, size: tuple[int, int]) -> Image.Image:
        mask = Image.new("L", size, 255)
        draw = ImageDraw.Draw(mask)
        width, height = size
        for x, y, w, h in self.masks:
            left, top = round(x * width), round(y * height)
            right, bottom = round((x + w) * width) - 1, round((y + h) * height) - 1
            if right >= left and bottom >= top:  # smaller than a pixel at this scale: nothing
                draw.rectangle((left, top, right, bottom), fill=0)
        return mask
