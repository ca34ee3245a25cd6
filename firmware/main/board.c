#include "board.h"

board_sensor_t board_sensor_from_pid(uint16_t pid)
{
    switch (pid) {
    case BOARD_PID_GC0308:
        return BOARD_SENSOR_GC0308;
    case BOARD_PID_OV3660:
        return BOARD_SENSOR_OV3660;
    default:
        return BOARD_SENSOR_UNKNOWN;
    }
}

const char *board_sensor_name(board_sensor_t sensor)
{
    switch (sensor) {
    case BOARD_SENSOR_GC0308:
        return "GC0308";
    case BOARD_SENSOR_OV3660:
        return "OV3660";
    default:
        return "unknown";
    }
}

const char *board_name(board_sensor_t sensor)
{
    switch (sensor) {
    case BOARD_SENSOR_GC0308:
        return "AtomS3R-CAM";
    case BOARD_SENSOR_OV3660:
        return "AtomS3R-M12";
    default:
        return "unknown";
    }
}

bool board_sensor_has_jpeg(board_sensor_t sensor)
{
    return sensor == BOARD_SENSOR_OV3660;
}
