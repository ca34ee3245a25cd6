/*
 * Frame-size names <-> dimensions, in the same order as esp32-camera's framesize_t
 * (driver/include/sensor.h). Portable: no ESP-IDF includes. camera.c checks every
 * index against the real FRAMESIZE_* constants with _Static_assert.
 */
#ifndef FRAMESIZE_H
#define FRAMESIZE_H

#include <stdbool.h>
#include <stddef.h>

#include "board.h"

/* Indices equal esp32-camera's framesize_t values. Only sizes up to QXGA are offered:
 * QXGA (2048x1536) is the OV3660's maximum, VGA the GC0308's. */
enum {
    FS_96X96 = 0,
    FS_QQVGA,
    FS_128X128,
    FS_QCIF,
    FS_HQVGA,
    FS_240X240,
    FS_QVGA,
    FS_320X320,
    FS_CIF,
    FS_HVGA,
    FS_VGA,
    FS_SVGA,
    FS_XGA,
    FS_HD,
    FS_SXGA,
    FS_UXGA,
    FS_FHD,
    FS_P_HD,
    FS_P_3MP,
    FS_QXGA,
    FS_COUNT /* number of offered sizes; not a valid size */
};

typedef struct {
    const char *name;   /* canonical name, as stored in NVS and sent to the server ("VGA") */
    unsigned width;
    unsigned height;
} framesize_info_t;

/* NULL when fs is out of range. */
const framesize_info_t *framesize_info(int fs);

/* Canonical name, or "?" when out of range. */
const char *framesize_name(int fs);

/* Parses a name (case-insensitive: "vga", "VGA", "p_hd") or "WIDTHxHEIGHT" matching a table
 * entry ("640x480"). Returns the index, or -1. */
int framesize_parse(const char *text);

/* Largest size a sensor supports (GC0308: VGA, OV3660: QXGA, unknown: QXGA). */
int framesize_max_for_sensor(board_sensor_t sensor);

/* True when fs is a valid index no larger than the sensor's maximum. */
bool framesize_supported(board_sensor_t sensor, int fs);

/* Explains why a size is refused, e.g. "GC0308 supports up to VGA (640x480)". */
void framesize_limit_message(board_sensor_t sensor, char *out, size_t out_len);

/* Writes every offered name separated by spaces (for help texts). */
void framesize_list(char *out, size_t out_len);

/*
 * Whether going from the frame size the buffers were allocated for (alloc_fs) to new_fs
 * needs esp_camera_deinit + esp_camera_init. The driver sizes its buffers at init:
 * JPEG w*h/5, raw formats exactly w*h*bytes-per-pixel, and a raw frame of another size
 * is rejected ("FB-SIZE"). So raw: any change; JPEG: only a larger pixel count.
 */
bool framesize_needs_reinit(bool jpeg_mode, int alloc_fs, int new_fs);

#endif /* FRAMESIZE_H */
