#include <stdio.h>
#include <string.h>

#include "check.h"
#include "control.h"
#include "framesize.h"

static control_result_t res;
static json_object_t parsed;

static control_kind_t handle(const char *msg, board_sensor_t sensor, settings_t *s)
{
    return control_handle(msg, strlen(msg), sensor, s, &res);
}

static const char *reason_for(const char *key)
{
    for (int i = 0; i < res.rejected_count; i++) {
        if (strcmp(res.rejected[i].key, key) == 0) {
            return res.rejected[i].reason;
        }
    }
    return NULL;
}

int main(void)
{
    settings_t s;
    settings_defaults(&s);
    char ack[1024];

    /* the full example from the protocol */
    CHECK_INT(handle("{\"type\":\"config\",\"framesize\":\"SVGA\",\"quality\":70,\"fps\":15,\"vflip\":false,\"hmirror\":true}",
                     BOARD_SENSOR_OV3660, &s), CONTROL_CONFIG);
    CHECK_INT(res.applied, SETTING_BIT(SETTING_FRAMESIZE) | SETTING_BIT(SETTING_QUALITY) | SETTING_BIT(SETTING_FPS) |
                               SETTING_BIT(SETTING_VFLIP) | SETTING_BIT(SETTING_HMIRROR));
    CHECK_INT(res.rejected_count, 0);
    CHECK_INT(s.framesize, FS_SVGA);
    CHECK_INT(s.quality, 70);
    CHECK_INT(s.fps, 15);
    CHECK(!s.vflip);
    CHECK(s.hmirror);
    CHECK(control_format_ack(&res, &s, ack, sizeof(ack)));
    CHECK_STR(ack, "{\"type\":\"config_ack\",\"applied\":{\"framesize\":\"SVGA\",\"quality\":70,\"fps\":15,"
                   "\"vflip\":false,\"hmirror\":true},\"rejected\":{}}");
    CHECK(json_parse_object(ack, strlen(ack), &parsed, NULL, 0));

    /* a subset; bad values are refused one by one, good ones still applied */
    settings_defaults(&s);
    CHECK_INT(handle("{\"fps\":0,\"type\":\"config\",\"quality\":101,\"vflip\":\"yes\",\"hmirror\":1,\"framesize\":\"HUGE\"}",
                     BOARD_SENSOR_OV3660, &s), CONTROL_CONFIG);
    CHECK_INT(res.applied, SETTING_BIT(SETTING_HMIRROR));
    CHECK(s.hmirror);
    CHECK_INT(s.fps, 10);
    CHECK_INT(s.quality, 80);
    CHECK_INT(s.framesize, FS_VGA);
    CHECK_INT(res.rejected_count, 4);
    CHECK_STR(reason_for("fps"), "must be an integer 1-30");
    CHECK_STR(reason_for("quality"), "must be an integer 1-100 (higher is better)");
    CHECK_STR(reason_for("vflip"), "must be true or false");
    CHECK(reason_for("framesize") && strstr(reason_for("framesize"), "unknown frame size"));
    CHECK(control_format_ack(&res, &s, ack, sizeof(ack)));
    CHECK(json_parse_object(ack, strlen(ack), &parsed, NULL, 0));
    CHECK_CONTAINS(ack, "\"applied\":{\"hmirror\":true}");
    CHECK_CONTAINS(ack, "\"fps\":\"must be an integer 1-30\"");

    /* wrong JSON types */
    settings_defaults(&s);
    handle("{\"type\":\"config\",\"quality\":\"80\",\"fps\":12.5,\"framesize\":640,\"vflip\":null,\"hmirror\":2}",
           BOARD_SENSOR_OV3660, &s);
    CHECK_INT(res.applied, 0);
    CHECK_INT(res.rejected_count, 5);
    CHECK_STR(reason_for("quality"), "must be an integer 1-100 (higher is better)");
    CHECK_STR(reason_for("fps"), "must be an integer 1-30");
    CHECK_STR(reason_for("framesize"), "must be a string such as \"VGA\"");
    CHECK_STR(reason_for("hmirror"), "must be true or false");
    handle("{\"type\":\"config\",\"fps\":99999999999999999999,\"quality\":-99999999999}", BOARD_SENSOR_OV3660, &s);
    CHECK_INT(res.rejected_count, 2);
    CHECK_INT(s.fps, 10);
    /* 0/1 numbers for booleans */
    handle("{\"type\":\"config\",\"vflip\":0,\"hmirror\":1}", BOARD_SENSOR_OV3660, &s);
    CHECK(!s.vflip && s.hmirror);

    /* frame size beyond the sensor: GC0308 stops at VGA */
    settings_defaults(&s);
    s.framesize = FS_QVGA;
    handle("{\"type\":\"config\",\"framesize\":\"UXGA\"}", BOARD_SENSOR_GC0308, &s);
    CHECK_INT(res.applied, 0);
    CHECK_STR(reason_for("framesize"), "GC0308 supports up to VGA (640x480)");
    CHECK_INT(s.framesize, FS_QVGA);
    handle("{\"type\":\"config\",\"framesize\":\"vga\"}", BOARD_SENSOR_GC0308, &s);
    CHECK_INT(res.applied, SETTING_BIT(SETTING_FRAMESIZE));
    CHECK_INT(s.framesize, FS_VGA);
    handle("{\"type\":\"config\",\"framesize\":\"QXGA\"}", BOARD_SENSOR_OV3660, &s);
    CHECK_INT(s.framesize, FS_QXGA);

    /* settings the server may not change, and unknown keys */
    settings_defaults(&s);
    handle("{\"type\":\"config\",\"ssid\":\"evil\",\"token\":\"x\",\"server\":\"ws://evil:1\",\"brightness\":2}",
           BOARD_SENSOR_OV3660, &s);
    CHECK_INT(res.applied, 0);
    CHECK_STR(reason_for("ssid"), "cannot be changed remotely");
    CHECK_STR(reason_for("token"), "cannot be changed remotely");
    CHECK_STR(reason_for("server"), "cannot be changed remotely");
    CHECK_STR(reason_for("brightness"), "unknown setting");
    CHECK_STR(s.ssid, "");
    CHECK_STR(s.server, "");
    /* keys needing escaping survive into the ack as valid JSON */
    handle("{\"type\":\"config\",\"we\\\"ird\\n\":1}", BOARD_SENSOR_OV3660, &s);
    CHECK(control_format_ack(&res, &s, ack, sizeof(ack)));
    CHECK(json_parse_object(ack, strlen(ack), &parsed, NULL, 0));
    /* an empty config is valid and acknowledged */
    CHECK_INT(handle("{\"type\":\"config\"}", BOARD_SENSOR_OV3660, &s), CONTROL_CONFIG);
    CHECK(control_format_ack(&res, &s, ack, sizeof(ack)));
    CHECK_STR(ack, "{\"type\":\"config_ack\",\"applied\":{},\"rejected\":{}}");

    /* other types are ignored, with the type reported for the log */
    CHECK_INT(handle("{\"type\":\"ping\",\"fps\":1}", BOARD_SENSOR_OV3660, &s), CONTROL_IGNORED);
    CHECK_STR(res.type, "ping");
    CHECK_INT(s.fps, 10);

    /* invalid messages */
    CHECK_INT(handle("not json", BOARD_SENSOR_OV3660, &s), CONTROL_INVALID);
    CHECK_STR(res.error, "not a JSON object");
    CHECK_INT(handle("{\"fps\":5}", BOARD_SENSOR_OV3660, &s), CONTROL_INVALID);
    CHECK_CONTAINS(res.error, "type");
    CHECK_INT(handle("{\"type\":5}", BOARD_SENSOR_OV3660, &s), CONTROL_INVALID);
    CHECK_INT(handle("{\"type\":\"config\",\"fps\":5", BOARD_SENSOR_OV3660, &s), CONTROL_INVALID);
    CHECK_INT(s.fps, 10);   /* nothing applied from a broken message */
    CHECK_INT(control_handle(NULL, 0, BOARD_SENSOR_OV3660, &s, &res), CONTROL_INVALID);
    CHECK_INT(control_handle("{}", 0, BOARD_SENSOR_OV3660, &s, &res), CONTROL_INVALID);
    static char huge[CONTROL_MSG_MAX + 10];
    memset(huge, ' ', sizeof(huge) - 1);
    huge[0] = '{';
    huge[sizeof(huge) - 2] = '}';
    huge[sizeof(huge) - 1] = '\0';
    CHECK_INT(handle(huge, BOARD_SENSOR_OV3660, &s), CONTROL_INVALID);
    CHECK_CONTAINS(res.error, "longer than");

    /* ack that does not fit */
    handle("{\"type\":\"config\",\"fps\":5,\"quality\":50}", BOARD_SENSOR_OV3660, &s);
    char small[20];
    CHECK(!control_format_ack(&res, &s, small, sizeof(small)));

    /* hello: current settings and the choices, in the order the server documents */
    control_hello_t h = {
        .camera_id = "desk", .board = "AtomS3R-M12", .sensor = "OV3660", .firmware = "1.1.0",
        .sensor_kind = BOARD_SENSOR_OV3660, .framesize = FS_VGA, .fps = 15, .quality = 80,
        .vflip = false, .hmirror = true,
    };
    char hello[CONTROL_HELLO_MAX];
    CHECK(control_format_hello(&h, hello, sizeof(hello)));
    CHECK_STR(hello,
              "{\"type\":\"hello\",\"camera_id\":\"desk\",\"board\":\"AtomS3R-M12\",\"sensor\":\"OV3660\","
              "\"firmware\":\"1.1.0\",\"width\":640,\"height\":480,\"fps\":15,\"quality\":80,"
              "\"framesize\":\"VGA\",\"vflip\":false,\"hmirror\":true,"
              "\"choices\":{\"framesize\":[\"96X96\",\"QQVGA\",\"128X128\",\"QCIF\",\"HQVGA\",\"240X240\","
              "\"QVGA\",\"320X320\",\"CIF\",\"HVGA\",\"VGA\",\"SVGA\",\"XGA\",\"HD\",\"SXGA\",\"UXGA\",\"FHD\","
              "\"P_HD\",\"P_3MP\",\"QXGA\"],"
              "\"quality\":{\"min\":1,\"max\":100},\"fps\":{\"min\":1,\"max\":30},"
              "\"vflip\":[false,true],\"hmirror\":[false,true]}}");
    CHECK(json_parse_object(hello, strlen(hello), &parsed, NULL, 0));
    CHECK_STR(json_find(&parsed, "framesize")->str, "VGA");
    CHECK_INT(json_find(&parsed, "width")->integer, 640);
    CHECK_INT(json_find(&parsed, "hmirror")->type, JSON_TRUE);
    CHECK_INT(json_find(&parsed, "choices")->type, JSON_OBJECT);

    /* the GC0308 offers up to VGA only; width and height follow the size in use */
    h.sensor_kind = BOARD_SENSOR_GC0308;
    h.framesize = FS_QVGA;
    CHECK(control_format_hello(&h, hello, sizeof(hello)));
    CHECK_CONTAINS(hello, "\"width\":320,\"height\":240,");
    CHECK_CONTAINS(hello, "\"framesize\":\"QVGA\"");
    CHECK_CONTAINS(hello, "\"choices\":{\"framesize\":[\"96X96\",\"QQVGA\",\"128X128\",\"QCIF\",\"HQVGA\","
                          "\"240X240\",\"QVGA\",\"320X320\",\"CIF\",\"HVGA\",\"VGA\"],");

    /* every size the hello offers is accepted by a config message, the next one is refused,
     * and so are the quality and fps limits it announces */
    for (board_sensor_t kind = BOARD_SENSOR_UNKNOWN; kind <= BOARD_SENSOR_OV3660; kind++) {
        h.sensor_kind = kind;
        CHECK(control_format_hello(&h, hello, sizeof(hello)));
        for (int fs = 0; fs < FS_COUNT; fs++) {
            char quoted[24], msg[96];
            snprintf(quoted, sizeof(quoted), "\"%s\"", framesize_name(fs));
            const char *list = strstr(hello, "\"choices\":{\"framesize\":[");
            const char *list_end = list ? strchr(list, ']') : NULL;
            const char *at = list ? strstr(list, quoted) : NULL;
            bool offered = at && at < list_end;
            snprintf(msg, sizeof(msg), "{\"type\":\"config\",\"framesize\":\"%s\"}", framesize_name(fs));
            settings_defaults(&s);
            handle(msg, kind, &s);
            CHECK_INT(res.applied == SETTING_BIT(SETTING_FRAMESIZE), offered);
        }
    }
    struct { const char *key; int value; bool ok; } limits[] = {
        {"quality", SETTINGS_QUALITY_MIN, true}, {"quality", SETTINGS_QUALITY_MAX, true},
        {"quality", SETTINGS_QUALITY_MIN - 1, false}, {"quality", SETTINGS_QUALITY_MAX + 1, false},
        {"fps", SETTINGS_FPS_MIN, true}, {"fps", SETTINGS_FPS_MAX, true},
        {"fps", SETTINGS_FPS_MIN - 1, false}, {"fps", SETTINGS_FPS_MAX + 1, false},
    };
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        char msg[96];
        snprintf(msg, sizeof(msg), "{\"type\":\"config\",\"%s\":%d}", limits[i].key, limits[i].value);
        settings_defaults(&s);
        handle(msg, BOARD_SENSOR_OV3660, &s);
        CHECK_INT(res.applied != 0, limits[i].ok);
    }
    CHECK(control_format_hello(&h, hello, sizeof(hello)));
    CHECK_CONTAINS(hello, "\"quality\":{\"min\":1,\"max\":100}");
    CHECK_CONTAINS(hello, "\"fps\":{\"min\":1,\"max\":30}");

    /* the longest hello (every size, a 64-character id, largest numbers) fits the firmware's buffer */
    char id64[65];
    memset(id64, 'x', 64);
    id64[64] = '\0';
    control_hello_t worst = {
        .camera_id = id64, .board = "AtomS3R-CAM", .sensor = "unknown", .firmware = "99.99.99",
        .sensor_kind = BOARD_SENSOR_UNKNOWN, .framesize = FS_QXGA, .fps = SETTINGS_FPS_MAX,
        .quality = SETTINGS_QUALITY_MAX, .vflip = true, .hmirror = true,
    };
    CHECK(control_format_hello(&worst, hello, sizeof(hello)));
    CHECK(strlen(hello) < CONTROL_HELLO_MAX - 64);   /* with room to spare */
    CHECK(json_parse_object(hello, strlen(hello), &parsed, NULL, 0));
    CHECK_STR(json_find(&parsed, "camera_id")->str, id64);
    /* too small a buffer, or a size out of range, is refused */
    CHECK(!control_format_hello(&worst, hello, 300));
    CHECK(strlen(hello) < 300);
    worst.framesize = FS_COUNT;
    CHECK(!control_format_hello(&worst, hello, sizeof(hello)));
    CHECK_STR(hello, "");
    worst.framesize = -1;
    CHECK(!control_format_hello(&worst, hello, sizeof(hello)));
    return check_report("test_control");
}
