#include <string.h>

#include "check.h"
#include "framesize.h"
#include "settings.h"

static settings_t s;
static char err[512];

static int set(setting_id_t id, const char *v)
{
    return settings_set(&s, id, v, err, sizeof(err));
}

static const char *fmt(setting_id_t id, int mask)
{
    static char out[SETTINGS_VALUE_MAX + 1];
    settings_format(&s, id, mask != 0, out, sizeof(out));
    return out;
}

int main(void)
{
    /* metadata: names, NVS keys within NVS's 15-character limit and unique */
    for (int i = 0; i < SETTING_COUNT; i++) {
        const setting_info_t *a = settings_info((setting_id_t)i);
        CHECK(a != NULL);
        CHECK(strlen(a->nvs_key) >= 1 && strlen(a->nvs_key) <= 15);
        CHECK(a->allowed && a->allowed[0]);
        CHECK_INT(settings_find(a->name), i);
        for (int j = 0; j < i; j++) {
            CHECK(strcmp(a->nvs_key, settings_info((setting_id_t)j)->nvs_key) != 0);
            CHECK(strcmp(a->name, settings_info((setting_id_t)j)->name) != 0);
        }
    }
    CHECK(settings_info(SETTING_COUNT) == NULL);
    CHECK(settings_info((setting_id_t)-1) == NULL);
    CHECK_INT(settings_find("nope"), -1);
    CHECK_INT(settings_find(NULL), -1);
    CHECK(settings_info(SETTING_PASSWORD)->secret);
    CHECK(settings_info(SETTING_TOKEN)->secret);
    CHECK(!settings_info(SETTING_SSID)->secret);
    /* only camera settings may be changed by the server */
    CHECK(settings_info(SETTING_FRAMESIZE)->remote && settings_info(SETTING_QUALITY)->remote &&
          settings_info(SETTING_FPS)->remote && settings_info(SETTING_VFLIP)->remote &&
          settings_info(SETTING_HMIRROR)->remote);
    CHECK(!settings_info(SETTING_SSID)->remote && !settings_info(SETTING_PASSWORD)->remote &&
          !settings_info(SETTING_SERVER)->remote && !settings_info(SETTING_CAMERA_ID)->remote &&
          !settings_info(SETTING_TOKEN)->remote);

    /* defaults */
    settings_defaults(&s);
    CHECK_STR(s.ssid, "");
    CHECK_STR(s.server, "");
    CHECK_INT(s.framesize, FS_VGA);
    CHECK_INT(s.quality, 80);
    CHECK_INT(s.fps, 10);
    CHECK(s.vflip);
    CHECK(!s.hmirror);
    CHECK_STR(fmt(SETTING_FRAMESIZE, 0), "VGA");
    CHECK_STR(fmt(SETTING_VFLIP, 0), "on");
    CHECK_STR(fmt(SETTING_HMIRROR, 0), "off");
    CHECK_STR(fmt(SETTING_PASSWORD, 1), "(not set)");

    /* ssid */
    CHECK(set(SETTING_SSID, "My Wi-Fi"));
    CHECK_STR(s.ssid, "My Wi-Fi");
    CHECK(set(SETTING_SSID, "12345678901234567890123456789012"));
    CHECK(!set(SETTING_SSID, "123456789012345678901234567890123"));
    CHECK_CONTAINS(err, "1-32 bytes");
    CHECK(!set(SETTING_SSID, ""));
    CHECK_STR(s.ssid, "12345678901234567890123456789012"); /* unchanged on failure */
    CHECK(!set(SETTING_SSID, NULL));
    CHECK_CONTAINS(err, "missing value");

    /* password */
    CHECK(set(SETTING_PASSWORD, "secret123"));
    CHECK_STR(fmt(SETTING_PASSWORD, 1), "********");
    CHECK_STR(fmt(SETTING_PASSWORD, 0), "secret123");
    CHECK(set(SETTING_PASSWORD, ""));
    CHECK(set(SETTING_PASSWORD, "with space ok"));
    CHECK(!set(SETTING_PASSWORD, "short"));
    CHECK_CONTAINS(err, "8-63");
    CHECK(!set(SETTING_PASSWORD, "1234567"));
    char p63[64], p64hex[65], p64bad[65];
    memset(p63, 'a', 63);
    p63[63] = '\0';
    memset(p64hex, 'F', 64);
    p64hex[64] = '\0';
    memcpy(p64bad, p64hex, sizeof(p64bad));
    p64bad[10] = 'g';
    CHECK(set(SETTING_PASSWORD, p63));
    CHECK(set(SETTING_PASSWORD, p64hex));
    CHECK(!set(SETTING_PASSWORD, p64bad));
    CHECK(!set(SETTING_PASSWORD, "tab\tinside!"));
    CHECK(!set(SETTING_PASSWORD, "n\xc3\xa9n-ascii-pass"));

    /* server (stored form): validated and normalized by url.c, a path is kept as a prefix */
    CHECK(set(SETTING_SERVER, "ws://192.168.1.20:8765"));
    CHECK_STR(s.server, "ws://192.168.1.20:8765");
    CHECK_STR(s.camera_id, "");
    CHECK(set(SETTING_SERVER, "WS://proxy.lan/cams/"));
    CHECK_STR(s.server, "ws://proxy.lan/cams");
    CHECK_STR(s.camera_id, "");
    CHECK(set(SETTING_SERVER, "WSS://10.0.0.2:8765/"));   /* TLS */
    CHECK_STR(s.server, "wss://10.0.0.2:8765");
    CHECK(set(SETTING_SERVER, "WS://proxy.lan/cams/"));
    CHECK(!set(SETTING_SERVER, "http://10.0.0.2:8765"));
    CHECK_CONTAINS(err, "ws://");
    CHECK(!set(SETTING_SERVER, "ws://host:8765/cam?token=x"));
    CHECK_CONTAINS(err, "token");
    CHECK(!set(SETTING_SERVER, "ws://host:99999"));
    CHECK_CONTAINS(err, "1-65535");
    CHECK(!set(SETTING_SERVER, "ws://host name"));
    CHECK_STR(s.server, "ws://proxy.lan/cams");
    CHECK(set(SETTING_SERVER, ""));       /* unconfigure */
    CHECK_STR(s.server, "");

    /* server as the user types it: the last path segment is the camera id */
    CHECK(settings_set_server_input(&s, "ws://192.168.1.20:8765/kitchen", err, sizeof(err)));
    CHECK_STR(s.server, "ws://192.168.1.20:8765");
    CHECK_STR(s.camera_id, "kitchen");
    CHECK(settings_set_server_input(&s, "ws://10.0.0.2:8765/", err, sizeof(err)));
    CHECK_STR(s.server, "ws://10.0.0.2:8765");
    CHECK_STR(s.camera_id, "kitchen"); /* no path: the camera id is kept */
    CHECK(settings_set_server_input(&s, "ws://proxy/cams/garage", err, sizeof(err)));
    CHECK_STR(s.server, "ws://proxy/cams");
    CHECK_STR(s.camera_id, "garage");
    CHECK(settings_set_server_input(&s, "wss://cams.example.com/porch", err, sizeof(err)));
    CHECK_STR(s.server, "wss://cams.example.com");
    CHECK_STR(s.camera_id, "porch");
    CHECK(settings_set_server_input(&s, "ws://proxy/cams/garage", err, sizeof(err)));
    CHECK(!settings_set_server_input(&s, "ws://host/bad.id", err, sizeof(err)));
    CHECK_CONTAINS(err, "camera id");
    CHECK(!settings_set_server_input(&s, "ftp://host", err, sizeof(err)));
    CHECK(!settings_set_server_input(&s, NULL, err, sizeof(err)));
    CHECK_STR(s.server, "ws://proxy/cams");
    CHECK_STR(s.camera_id, "garage");
    CHECK(settings_set_server_input(&s, "", err, sizeof(err)));
    CHECK_STR(s.server, "");

    /* camera id */
    CHECK(set(SETTING_CAMERA_ID, "garage_2"));
    CHECK_STR(s.camera_id, "garage_2");
    CHECK(set(SETTING_CAMERA_ID, ""));    /* automatic */
    CHECK(!set(SETTING_CAMERA_ID, "has space"));
    CHECK_CONTAINS(err, "A-Z a-z 0-9 _ -");
    CHECK(!set(SETTING_CAMERA_ID, "a/b"));

    /* token: goes into an HTTP header, so no spaces or CR/LF */
    CHECK(set(SETTING_TOKEN, "abc.DEF-123_~+/="));
    CHECK_STR(fmt(SETTING_TOKEN, 1), "********");
    CHECK(set(SETTING_TOKEN, ""));
    CHECK_STR(fmt(SETTING_TOKEN, 1), "(not set)");
    CHECK(!set(SETTING_TOKEN, "abc\r\nX-Evil: 1"));
    CHECK_CONTAINS(err, "without spaces");
    CHECK(!set(SETTING_TOKEN, "a b"));
    char tok129[130];
    memset(tok129, 't', 129);
    tok129[129] = '\0';
    CHECK(!set(SETTING_TOKEN, tok129));
    tok129[128] = '\0';
    CHECK(set(SETTING_TOKEN, tok129));

    /* framesize */
    CHECK(set(SETTING_FRAMESIZE, "qvga"));
    CHECK_INT(s.framesize, FS_QVGA);
    CHECK_STR(fmt(SETTING_FRAMESIZE, 0), "QVGA");
    CHECK(set(SETTING_FRAMESIZE, "1600x1200"));
    CHECK_STR(fmt(SETTING_FRAMESIZE, 0), "UXGA");
    CHECK(!set(SETTING_FRAMESIZE, "huge"));
    CHECK_CONTAINS(err, "QQVGA");
    CHECK_CONTAINS(err, "QXGA");
    CHECK(!set(SETTING_FRAMESIZE, ""));
    CHECK_STR(fmt(SETTING_FRAMESIZE, 0), "UXGA");

    /* quality */
    CHECK(set(SETTING_QUALITY, "1"));
    CHECK(set(SETTING_QUALITY, "100"));
    CHECK_INT(s.quality, 100);
    CHECK(!set(SETTING_QUALITY, "0"));
    CHECK_CONTAINS(err, "1-100");
    CHECK(!set(SETTING_QUALITY, "101"));
    CHECK(!set(SETTING_QUALITY, "-5"));
    CHECK(!set(SETTING_QUALITY, "8O"));
    CHECK(!set(SETTING_QUALITY, ""));
    CHECK(!set(SETTING_QUALITY, " 80"));
    CHECK(!set(SETTING_QUALITY, "80.5"));
    CHECK(!set(SETTING_QUALITY, "99999999999999999999"));
    CHECK_INT(s.quality, 100);

    /* fps */
    CHECK(set(SETTING_FPS, "30"));
    CHECK(set(SETTING_FPS, "+15"));
    CHECK_INT(s.fps, 15);
    CHECK_STR(fmt(SETTING_FPS, 0), "15");
    CHECK(!set(SETTING_FPS, "0"));
    CHECK_CONTAINS(err, "1-30");
    CHECK(!set(SETTING_FPS, "31"));
    CHECK(!set(SETTING_FPS, "fast"));
    CHECK(!set(SETTING_FPS, "+"));
    CHECK(!set(SETTING_FPS, "-"));
    CHECK_INT(s.fps, 15);

    /* booleans */
    CHECK(set(SETTING_VFLIP, "off"));
    CHECK(!s.vflip);
    CHECK(set(SETTING_VFLIP, "TRUE"));
    CHECK(s.vflip);
    CHECK(set(SETTING_HMIRROR, "1"));
    CHECK(s.hmirror);
    CHECK(set(SETTING_HMIRROR, "no"));
    CHECK(!s.hmirror);
    CHECK(!set(SETTING_HMIRROR, "maybe"));
    CHECK_CONTAINS(err, "on/off");
    CHECK(!set(SETTING_VFLIP, ""));
    CHECK(!set(SETTING_VFLIP, "2"));

    /* out-of-range id */
    CHECK(!set(SETTING_COUNT, "x"));
    CHECK_CONTAINS(err, "unknown setting");

    /* int / bool parsers directly */
    int v = -1;
    CHECK(settings_parse_int("-3", -5, 5, &v) && v == -3);
    CHECK(!settings_parse_int(NULL, 0, 5, &v));
    CHECK(!settings_parse_int("6", 0, 5, &v));
    bool b = false;
    CHECK(settings_parse_bool("Yes", &b) && b);
    CHECK(settings_parse_bool("N", &b) && !b);
    CHECK(!settings_parse_bool(NULL, &b));
    CHECK(!settings_parse_bool("onn", &b));

    /* format round-trips through set for every setting */
    settings_t a;
    settings_defaults(&a);
    settings_set(&a, SETTING_SSID, "Home", NULL, 0);
    settings_set(&a, SETTING_PASSWORD, "password1", NULL, 0);
    settings_set_server_input(&a, "ws://proxy.example:8080/cams/cam", NULL, 0); /* prefix + id */
    CHECK_STR(a.server, "ws://proxy.example:8080/cams");
    CHECK_STR(a.camera_id, "cam");
    settings_set(&a, SETTING_TOKEN, "tok", NULL, 0);
    settings_set(&a, SETTING_FRAMESIZE, "SVGA", NULL, 0);
    settings_set(&a, SETTING_QUALITY, "42", NULL, 0);
    settings_set(&a, SETTING_FPS, "7", NULL, 0);
    settings_set(&a, SETTING_VFLIP, "off", NULL, 0);
    settings_set(&a, SETTING_HMIRROR, "on", NULL, 0);
    settings_t c;
    settings_defaults(&c);
    for (int i = 0; i < SETTING_COUNT; i++) {
        char text[SETTINGS_VALUE_MAX + 1];
        settings_format(&a, (setting_id_t)i, false, text, sizeof(text));
        CHECK(settings_set(&c, (setting_id_t)i, text, err, sizeof(err)));
    }
    CHECK_INT(settings_diff(&a, &c), 0);
    CHECK_STR(c.server, "ws://proxy.example:8080/cams");  /* reloading keeps the prefix */
    CHECK_STR(c.camera_id, "cam");
    CHECK(memcmp(&a, &c, sizeof(a)) == 0);

    /* diff reports exactly the changed keys */
    settings_set(&c, SETTING_FPS, "8", NULL, 0);
    settings_set(&c, SETTING_TOKEN, "other", NULL, 0);
    CHECK_INT(settings_diff(&a, &c), SETTING_BIT(SETTING_FPS) | SETTING_BIT(SETTING_TOKEN));
    CHECK((SETTINGS_CAMERA_BITS & SETTINGS_SERVER_BITS) == 0);
    CHECK((SETTINGS_CAMERA_BITS & SETTINGS_WIFI_BITS) == 0);
    CHECK((SETTINGS_CAMERA_BITS | SETTINGS_SERVER_BITS | SETTINGS_WIFI_BITS) == (1u << SETTING_COUNT) - 1);

    /* format into small or NULL buffers */
    char small[3];
    settings_format(&a, SETTING_SERVER, false, small, sizeof(small));
    CHECK_STR(small, "ws");
    settings_format(&a, SETTING_SERVER, false, NULL, 0);
    settings_format(&a, SETTING_COUNT, false, small, sizeof(small));
    CHECK_STR(small, "");
    return check_report("test_settings");
}
