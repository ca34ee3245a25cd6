"""Pure formats: bytes in, bytes out, no I/O (JPEG checks, FLV, H.264, MPEG-TS, fMP4, repeat pictures)."""
