/*
 * Camera power, detection and capture for both boards with one binary:
 *   AtomS3R-M12 (OV3660): the sensor's own JPEG frames are sent as they are.
 *   AtomS3R-CAM (GC0308): no JPEG in the sensor; RGB565 frames are encoded in software with
 *   frame2jpg_cb into a growable PSRAM buffer (never the truncating 128 KB frame2jpg).
 * All functions except the getters must be called from one task (the streaming task).
 */
#ifndef CAMERA_H
#define CAMERA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "board.h"
#include "esp_err.h"
#include "settings.h"

typedef struct {
    const uint8_t *data;   /* one complete JPEG (FF D8 ... FF D9) */
    size_t len;
    unsigned width;
    unsigned height;
    void *fb;              /* driver frame buffer still held (hardware JPEG), or NULL */
} camera_frame_t;

/* Drives GPIO18 (camera power, active low) low. Call first thing at boot. */
void camera_power_on(void);

/* Waits out the power-up delay, detects the sensor and starts capturing with settings s. */
esp_err_t camera_start(const settings_t *s);

/* Applies frame size, quality and flips; re-initialises the driver when the frame size needs
 * larger buffers. On failure the previous frame size is restored and an error returned. */
esp_err_t camera_apply(const settings_t *s);

/* Power-cycles the camera and starts it again (after repeated capture failures). */
esp_err_t camera_restart(const settings_t *s);

/* Gets one frame as JPEG. False when none could be captured/encoded (nothing to release). */
bool camera_capture(camera_frame_t *out);

/* Returns the driver buffer of a captured frame (safe to call on any frame). */
void camera_release(camera_frame_t *f);

typedef struct {
    bool ready;
    board_sensor_t sensor;
    uint16_t pid;
    bool hw_jpeg;
    int framesize;          /* FS_* in use */
    uint32_t capture_failures;
    uint32_t encode_failures;
    uint32_t restarts;
    uint32_t last_encode_ms; /* software encoder time of the last frame (GC0308) */
} cam_info_t;             /* (esp32-camera already has a camera_status_t) */

void camera_get_info(cam_info_t *info);

#endif /* CAMERA_H */
