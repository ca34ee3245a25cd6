#include <string.h>

#include "check.h"
#include "framesize.h"

int main(void)
{
    /* table matches esp32-camera's framesize_t order and resolution[] dimensions */
    static const struct { int fs; const char *name; unsigned w, h; } expect[] = {
        {0, "96X96", 96, 96},     {1, "QQVGA", 160, 120},   {2, "128X128", 128, 128},
        {3, "QCIF", 176, 144},    {4, "HQVGA", 240, 176},   {5, "240X240", 240, 240},
        {6, "QVGA", 320, 240},    {7, "320X320", 320, 320}, {8, "CIF", 400, 296},
        {9, "HVGA", 480, 320},    {10, "VGA", 640, 480},    {11, "SVGA", 800, 600},
        {12, "XGA", 1024, 768},   {13, "HD", 1280, 720},    {14, "SXGA", 1280, 1024},
        {15, "UXGA", 1600, 1200}, {16, "FHD", 1920, 1080},  {17, "P_HD", 720, 1280},
        {18, "P_3MP", 864, 1536}, {19, "QXGA", 2048, 1536},
    };
    CHECK_INT(FS_COUNT, 20);
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
        const framesize_info_t *fi = framesize_info(expect[i].fs);
        CHECK(fi != NULL);
        if (fi) {
            CHECK_STR(fi->name, expect[i].name);
            CHECK_INT(fi->width, expect[i].w);
            CHECK_INT(fi->height, expect[i].h);
        }
        CHECK_INT(framesize_parse(expect[i].name), expect[i].fs);
    }
    CHECK_INT(FS_VGA, 10);
    CHECK_INT(FS_QVGA, 6);
    CHECK_INT(FS_QXGA, 19);

    /* out of range */
    CHECK(framesize_info(-1) == NULL);
    CHECK(framesize_info(FS_COUNT) == NULL);
    CHECK_STR(framesize_name(-1), "?");
    CHECK_STR(framesize_name(99), "?");

    /* parsing: case-insensitive names and WxH */
    CHECK_INT(framesize_parse("vga"), FS_VGA);
    CHECK_INT(framesize_parse("Vga"), FS_VGA);
    CHECK_INT(framesize_parse("p_hd"), FS_P_HD);
    CHECK_INT(framesize_parse("640x480"), FS_VGA);
    CHECK_INT(framesize_parse("640X480"), FS_VGA);
    CHECK_INT(framesize_parse("2048x1536"), FS_QXGA);
    CHECK_INT(framesize_parse("96x96"), FS_96X96);
    /* bad input */
    CHECK_INT(framesize_parse(NULL), -1);
    CHECK_INT(framesize_parse(""), -1);
    CHECK_INT(framesize_parse("VGA "), -1);
    CHECK_INT(framesize_parse(" VGA"), -1);
    CHECK_INT(framesize_parse("VGAA"), -1);
    CHECK_INT(framesize_parse("FRAMESIZE_VGA"), -1);
    CHECK_INT(framesize_parse("QSXGA"), -1);      /* 5 MP sizes are not offered */
    CHECK_INT(framesize_parse("5MP"), -1);
    CHECK_INT(framesize_parse("INVALID"), -1);
    CHECK_INT(framesize_parse("641x480"), -1);
    CHECK_INT(framesize_parse("640x"), -1);
    CHECK_INT(framesize_parse("x480"), -1);
    CHECK_INT(framesize_parse("640x480x1"), -1);
    CHECK_INT(framesize_parse("-640x480"), -1);
    CHECK_INT(framesize_parse("0000000640x480"), -1);
    CHECK_INT(framesize_parse("99999999999x480"), -1);
    CHECK_INT(framesize_parse("10"), -1);           /* no numeric indices */

    /* per-sensor limits */
    CHECK_INT(framesize_max_for_sensor(BOARD_SENSOR_GC0308), FS_VGA);
    CHECK_INT(framesize_max_for_sensor(BOARD_SENSOR_OV3660), FS_QXGA);
    CHECK_INT(framesize_max_for_sensor(BOARD_SENSOR_UNKNOWN), FS_QXGA);
    CHECK(framesize_supported(BOARD_SENSOR_GC0308, FS_VGA));
    CHECK(framesize_supported(BOARD_SENSOR_GC0308, FS_QVGA));
    CHECK(framesize_supported(BOARD_SENSOR_GC0308, FS_96X96));
    CHECK(!framesize_supported(BOARD_SENSOR_GC0308, FS_SVGA));
    CHECK(!framesize_supported(BOARD_SENSOR_GC0308, FS_QXGA));
    CHECK(framesize_supported(BOARD_SENSOR_OV3660, FS_QXGA));
    CHECK(framesize_supported(BOARD_SENSOR_OV3660, FS_UXGA));
    CHECK(!framesize_supported(BOARD_SENSOR_OV3660, FS_COUNT));
    CHECK(!framesize_supported(BOARD_SENSOR_OV3660, -1));

    char msg[80];
    framesize_limit_message(BOARD_SENSOR_GC0308, msg, sizeof(msg));
    CHECK_STR(msg, "GC0308 supports up to VGA (640x480)");
    framesize_limit_message(BOARD_SENSOR_OV3660, msg, sizeof(msg));
    CHECK_STR(msg, "OV3660 supports up to QXGA (2048x1536)");
    char tiny[8];
    framesize_limit_message(BOARD_SENSOR_GC0308, tiny, sizeof(tiny));
    CHECK_INT(strlen(tiny), 7);
    framesize_limit_message(BOARD_SENSOR_GC0308, NULL, 0); /* no crash */

    char list[256];
    framesize_list(list, sizeof(list));
    CHECK(strncmp(list, "96X96 QQVGA 128X128", 19) == 0);
    CHECK_CONTAINS(list, " VGA ");
    CHECK(strlen(list) > 6 && strcmp(list + strlen(list) - 5, " QXGA") == 0);
    char short_list[10];
    framesize_list(short_list, sizeof(short_list));
    CHECK(strlen(short_list) < sizeof(short_list));

    /* re-init decisions: raw (GC0308 RGB565) needs exact buffers; JPEG only grows */
    CHECK(!framesize_needs_reinit(false, FS_VGA, FS_VGA));
    CHECK(framesize_needs_reinit(false, FS_VGA, FS_QVGA));
    CHECK(framesize_needs_reinit(false, FS_QVGA, FS_VGA));
    CHECK(!framesize_needs_reinit(true, FS_VGA, FS_QVGA));
    CHECK(!framesize_needs_reinit(true, FS_VGA, FS_VGA));
    CHECK(framesize_needs_reinit(true, FS_VGA, FS_SVGA));
    CHECK(framesize_needs_reinit(true, FS_QVGA, FS_QXGA));
    CHECK(!framesize_needs_reinit(true, FS_HD, FS_P_HD));      /* same pixel count */
    CHECK(framesize_needs_reinit(true, FS_HVGA, FS_240X240) == false);
    CHECK(framesize_needs_reinit(true, FS_CIF, FS_320X320) == false); /* 118400 >= 102400 */
    CHECK(framesize_needs_reinit(true, FS_QVGA, FS_320X320));   /* 102400 > 76800 */
    CHECK(framesize_needs_reinit(true, -1, FS_VGA));
    CHECK(framesize_needs_reinit(false, FS_VGA, FS_COUNT));
    return check_report("test_framesize");
}
