#include "board.h"
#include "check.h"

int main(void)
{
    CHECK_INT(board_sensor_from_pid(0x9b), BOARD_SENSOR_GC0308);
    CHECK_INT(board_sensor_from_pid(0x3660), BOARD_SENSOR_OV3660);
    CHECK_INT(board_sensor_from_pid(0x2640), BOARD_SENSOR_UNKNOWN);
    CHECK_INT(board_sensor_from_pid(0), BOARD_SENSOR_UNKNOWN);
    CHECK_INT(board_sensor_from_pid(0xffff), BOARD_SENSOR_UNKNOWN);

    CHECK_STR(board_sensor_name(BOARD_SENSOR_GC0308), "GC0308");
    CHECK_STR(board_sensor_name(BOARD_SENSOR_OV3660), "OV3660");
    CHECK_STR(board_sensor_name(BOARD_SENSOR_UNKNOWN), "unknown");
    CHECK_STR(board_name(BOARD_SENSOR_GC0308), "AtomS3R-CAM");
    CHECK_STR(board_name(BOARD_SENSOR_OV3660), "AtomS3R-M12");
    CHECK_STR(board_name(BOARD_SENSOR_UNKNOWN), "unknown");
    CHECK_STR(board_name((board_sensor_t)42), "unknown");

    /* only the OV3660 encodes JPEG in hardware; the GC0308 needs the software encoder */
    CHECK(board_sensor_has_jpeg(BOARD_SENSOR_OV3660));
    CHECK(!board_sensor_has_jpeg(BOARD_SENSOR_GC0308));
    CHECK(!board_sensor_has_jpeg(BOARD_SENSOR_UNKNOWN));
    return check_report("test_board");
}
