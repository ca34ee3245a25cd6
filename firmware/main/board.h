/*
 * Which AtomS3R board this is, told apart by the camera sensor. Portable: no ESP-IDF includes.
 * The PID values are checked against esp32-camera's GC0308_PID / OV3660_PID in camera.c.
 */
#ifndef BOARD_H
#define BOARD_H

#include <stdbool.h>
#include <stdint.h>

#define BOARD_PID_GC0308 0x9b    /* AtomS3R-CAM (C126-CAM): 0.3 MP, no JPEG encoder */
#define BOARD_PID_OV3660 0x3660  /* AtomS3R-M12 (C126-M12): 3 MP, hardware JPEG */

typedef enum {
    BOARD_SENSOR_UNKNOWN = 0,
    BOARD_SENSOR_GC0308,
    BOARD_SENSOR_OV3660,
} board_sensor_t;

board_sensor_t board_sensor_from_pid(uint16_t pid);

/* "GC0308", "OV3660" or "unknown". */
const char *board_sensor_name(board_sensor_t sensor);

/* "AtomS3R-CAM", "AtomS3R-M12" or "unknown". */
const char *board_name(board_sensor_t sensor);

/* True when the sensor produces JPEG itself (OV3660); false means software encoding. */
bool board_sensor_has_jpeg(board_sensor_t sensor);

#endif /* BOARD_H */
