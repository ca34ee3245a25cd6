#include "framesize.h"

#include <stdio.h>
#include <string.h>

/* Same order and dimensions as esp32-camera driver/sensor.c resolution[]. */
static const framesize_info_t s_sizes[FS_COUNT] = {
    [FS_96X96] = {"96X96", 96, 96},
    [FS_QQVGA] = {"QQVGA", 160, 120},
    [FS_128X128] = {"128X128", 128, 128},
    [FS_QCIF] = {"QCIF", 176, 144},
    [FS_HQVGA] = {"HQVGA", 240, 176},
    [FS_240X240] = {"240X240", 240, 240},
    [FS_QVGA] = {"QVGA", 320, 240},
    [FS_320X320] = {"320X320", 320, 320},
    [FS_CIF] = {"CIF", 400, 296},
    [FS_HVGA] = {"HVGA", 480, 320},
    [FS_VGA] = {"VGA", 640, 480},
    [FS_SVGA] = {"SVGA", 800, 600},
    [FS_XGA] = {"XGA", 1024, 768},
    [FS_HD] = {"HD", 1280, 720},
    [FS_SXGA] = {"SXGA", 1280, 1024},
    [FS_UXGA] = {"UXGA", 1600, 1200},
    [FS_FHD] = {"FHD", 1920, 1080},
    [FS_P_HD] = {"P_HD", 720, 1280},
    [FS_P_3MP] = {"P_3MP", 864, 1536},
    [FS_QXGA] = {"QXGA", 2048, 1536},
};

const framesize_info_t *framesize_info(int fs)
{
    if (fs < 0 || fs >= FS_COUNT) {
        return NULL;
    }
    return &s_sizes[fs];
}

const char *framesize_name(int fs)
{
    const framesize_info_t *i = framesize_info(fs);
    return i ? i->name : "?";
}

static int upper(int c)
{
    return (c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c;
}

static bool equal_nocase(const char *a, const char *b)
{
    while (*a && *b) {
        if (upper((unsigned char)*a) != upper((unsigned char)*b)) {
            return false;
        }
        a++;
        b++;
    }
    return *a == '\0' && *b == '\0';
}

/* Strict unsigned decimal with 1..5 digits; advances *p. */
static bool parse_dim(const char **p, unsigned *out)
{
    unsigned v = 0;
    int digits = 0;
    while (**p >= '0' && **p <= '9') {
        if (++digits > 5) {
            return false;
        }
        v = v * 10u + (unsigned)(**p - '0');
        (*p)++;
    }
    *out = v;
    return digits > 0;
}

int framesize_parse(const char *text)
{
    if (text == NULL || *text == '\0') {
        return -1;
    }
    for (int i = 0; i < FS_COUNT; i++) {
        if (equal_nocase(text, s_sizes[i].name)) {
            return i;
        }
    }
    /* "640x480" */
    const char *p = text;
    unsigned w, h;
    if (!parse_dim(&p, &w) || (*p != 'x' && *p != 'X')) {
        return -1;
    }
    p++;
    if (!parse_dim(&p, &h) || *p != '\0') {
        return -1;
    }
    for (int i = 0; i < FS_COUNT; i++) {
        if (s_sizes[i].width == w && s_sizes[i].height == h) {
            return i;
        }
    }
    return -1;
}

int framesize_max_for_sensor(board_sensor_t sensor)
{
    switch (sensor) {
    case BOARD_SENSOR_GC0308:
        return FS_VGA;
    case BOARD_SENSOR_OV3660:
    default:
        return FS_QXGA;
    }
}

bool framesize_supported(board_sensor_t sensor, int fs)
{
    return fs >= 0 && fs < FS_COUNT && fs <= framesize_max_for_sensor(sensor);
}

void framesize_limit_message(board_sensor_t sensor, char *out, size_t out_len)
{
    if (out == NULL || out_len == 0) {
        return;
    }
    int max = framesize_max_for_sensor(sensor);
    snprintf(out, out_len, "%s supports up to %s (%ux%u)", board_sensor_name(sensor),
             s_sizes[max].name, s_sizes[max].width, s_sizes[max].height);
}

void framesize_list(char *out, size_t out_len)
{
    if (out == NULL || out_len == 0) {
        return;
    }
    out[0] = '\0';
    size_t used = 0;
    for (int i = 0; i < FS_COUNT; i++) {
        int n = snprintf(out + used, out_len - used, "%s%s", i ? " " : "", s_sizes[i].name);
        if (n < 0 || (size_t)n >= out_len - used) {
            return; /* truncated, still NUL-terminated */
        }
        used += (size_t)n;
    }
}

bool framesize_needs_reinit(bool jpeg_mode, int alloc_fs, int new_fs)
{
    const framesize_info_t *a = framesize_info(alloc_fs);
    const framesize_info_t *n = framesize_info(new_fs);
    if (a == NULL || n == NULL) {
        return true;
    }
    if (!jpeg_mode) {
        return alloc_fs != new_fs;
    }
    return (unsigned long)n->width * n->height > (unsigned long)a->width * a->height;
}
