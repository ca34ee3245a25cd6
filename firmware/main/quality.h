/*
 * The user's "quality" is 1..100, higher = better, for both boards. The two encoders run on
 * opposite scales (esp32-camera):
 *   - OV3660 hardware JPEG: camera_config_t.jpeg_quality / sensor set_quality, 0..63, LOWER = better.
 *   - Software encoder (frame2jpg_cb / fmt2jpg_cb, used for the GC0308): 1..100, HIGHER = better.
 * Portable: no ESP-IDF includes.
 */
#ifndef QUALITY_H
#define QUALITY_H

#define QUALITY_MIN 1
#define QUALITY_MAX 100

/* Best (lowest) sensor value the mapping produces. Lower values make OV3660 frames larger than
 * the driver's JPEG buffer (w*h/5 bytes under CAMERA_JPEG_MODE_FRAME_SIZE_AUTO), which the
 * driver then drops as overflowing; 6 keeps a margin. */
#define QUALITY_OV3660_BEST 6
#define QUALITY_OV3660_WORST 63

/* 1..100 (clamped) -> 63..6, linear and rounded: 1 -> 63, 80 -> 18, 90 -> 12, 100 -> 6. Never increases as q rises. */
int quality_to_ov3660(int user_quality);

/* 1..100 (clamped) -> software encoder quality 1..100 (same direction). */
int quality_to_encoder(int user_quality);

#endif /* QUALITY_H */
