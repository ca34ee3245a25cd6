#include <string.h>

#include "check.h"
#include "url.h"

static url_parts_t u;
static char err[160];

static int ok(const char *url)
{
    return url_parse(url, &u, err, sizeof(err));
}

int main(void)
{
    CHECK(ok("ws://192.168.1.20:8765"));
    CHECK_STR(u.host, "192.168.1.20");
    CHECK_INT(u.port, 8765);
    CHECK(u.port_given);
    CHECK_STR(u.path, "");
    CHECK(ok("WS://Example.local:8765/"));
    CHECK_STR(u.host, "Example.local");
    CHECK_STR(u.path, "");
    CHECK(ok("ws://cam-server"));
    CHECK_INT(u.port, 80);
    CHECK(!u.port_given);
    CHECK(ok("ws://cams.example.com/stream/kitchen"));
    CHECK_INT(u.port, 80);
    CHECK_STR(u.path, "/stream/kitchen");
    CHECK(!u.tls);

    /* wss:// (TLS): 443 when no port is given, as esp_websocket_client does */
    CHECK(ok("wss://cams.example.com/stream/kitchen"));
    CHECK(u.tls);
    CHECK_INT(u.port, 443);
    CHECK(!u.port_given);
    CHECK_STR(u.path, "/stream/kitchen");
    CHECK(ok("WSS://192.168.1.20:8765"));
    CHECK(u.tls);
    CHECK_INT(u.port, 8765);
    CHECK(url_is_tls("wss://h:8765"));
    CHECK(!url_is_tls("ws://h:8765"));
    CHECK(!url_is_tls("wss://bad host"));
    CHECK(!url_is_tls(NULL));
    CHECK(!ok("wss://"));
    CHECK(!ok("wss:/host"));
    CHECK(!ok("https://cams.example.com"));
    CHECK_CONTAINS(err, "use wss://");
    CHECK(ok("ws://[fe80::1]:8765/cam_1"));
    CHECK_STR(u.host, "[fe80::1]");
    CHECK_INT(u.port, 8765);
    CHECK(ok("ws://[::1]"));
    CHECK(ok("ws://my_host.lan:1/a.b~c"));
    CHECK(ok("ws://h:65535"));

    /* refused, each with a reason that says what is expected */
    CHECK(!ok(""));
    CHECK_STR(err, "empty URL");
    CHECK(!ok("http://192.168.1.20:8765"));
    CHECK_CONTAINS(err, "use ws://");
    CHECK(!ok("192.168.1.20:8765"));
    CHECK_CONTAINS(err, "must start with ws://");
    CHECK(!ok("ws:/host"));
    CHECK(!ok("ws://"));
    CHECK_CONTAINS(err, "missing host");
    CHECK(!ok("ws://:8765"));
    CHECK(!ok("ws://host:0"));
    CHECK_CONTAINS(err, "1-65535");
    CHECK(!ok("ws://host:65536"));
    CHECK(!ok("ws://host:123456"));
    CHECK(!ok("ws://host:"));
    CHECK(!ok("ws://host:80a"));
    CHECK(!ok("ws://host:-1"));
    CHECK(!ok("ws://ho st:8765"));
    CHECK_CONTAINS(err, "spaces");
    CHECK(!ok("ws://host:8765 "));
    CHECK(!ok("ws://host\r\n:8765"));
    CHECK(!ok("ws://h\xc3\xa9st"));
    CHECK(!ok("ws://host:8765/cam?token=abc"));
    CHECK_CONTAINS(err, "token");
    CHECK(!ok("ws://host:8765/#x"));
    CHECK(!ok("ws://user:pw@host:8765"));
    CHECK_CONTAINS(err, "user info");
    CHECK(!ok("ws://-host"));
    CHECK(!ok("ws://host-"));
    CHECK(!ok("ws://host..lan"));
    CHECK(!ok("ws://.host"));
    CHECK(!ok("ws://host."));
    CHECK(!ok("ws://ho$t"));
    CHECK(!ok("ws://[fe80::1"));
    CHECK(!ok("ws://[fe80::1]x"));
    CHECK(!ok("ws://[zz::1]"));
    CHECK(!ok("ws://[1234]"));
    CHECK(!ok("ws://host//cam"));
    CHECK_CONTAINS(err, "empty path segment");
    CHECK(!ok("ws://host/cam//"));
    CHECK(!ok("ws://host/a/../b"));
    CHECK(!ok("ws://host/./b"));
    CHECK(!ok("ws://host/a%20b"));
    char label[80] = "ws://";
    memset(label + 5, 'a', 64);
    label[69] = '\0';
    CHECK(!ok(label)); /* 64-character DNS label */
    char longurl[260] = "ws://h/";
    memset(longurl + 7, 'a', 200);
    longurl[207] = '\0';
    CHECK(!ok(longurl));
    CHECK_CONTAINS(err, "too long");
    CHECK(!url_parse(NULL, &u, NULL, 0));

    /* camera ids */
    CHECK(url_camera_id_valid("default"));
    CHECK(url_camera_id_valid("cam_1-A"));
    CHECK(url_camera_id_valid("x"));
    char id64[65];
    memset(id64, 'a', 64);
    id64[64] = '\0';
    CHECK(url_camera_id_valid(id64));
    char id65[66];
    memset(id65, 'a', 65);
    id65[65] = '\0';
    CHECK(!url_camera_id_valid(id65));
    CHECK(!url_camera_id_valid(""));
    CHECK(!url_camera_id_valid(NULL));
    CHECK(!url_camera_id_valid("cam 1"));
    CHECK(!url_camera_id_valid("cam/1"));
    CHECK(!url_camera_id_valid("cam.1"));
    CHECK(!url_camera_id_valid("caméra"));

    /* splitting: the last path segment is the camera id */
    char base[URL_MAX_LEN + 1], id[CAMERA_ID_MAX_LEN + 1];
    CHECK(url_split_server("ws://192.168.1.20:8765/kitchen", base, sizeof(base), id, sizeof(id), err, sizeof(err)));
    CHECK_STR(base, "ws://192.168.1.20:8765");
    CHECK_STR(id, "kitchen");
    CHECK(url_split_server("WS://host:8765/", base, sizeof(base), id, sizeof(id), err, sizeof(err)));
    CHECK_STR(base, "ws://host:8765");
    CHECK_STR(id, "");
    CHECK(url_split_server("ws://proxy.example/cams/garage/", base, sizeof(base), id, sizeof(id), err, sizeof(err)));
    CHECK_STR(base, "ws://proxy.example/cams");
    CHECK_STR(id, "garage");
    CHECK(url_split_server("ws://[::1]:9000", base, sizeof(base), id, sizeof(id), err, sizeof(err)));
    CHECK_STR(base, "ws://[::1]:9000");
    CHECK(url_split_server("wss://cams.example.com/kitchen", base, sizeof(base), id, sizeof(id), err, sizeof(err)));
    CHECK_STR(base, "wss://cams.example.com");
    CHECK_STR(id, "kitchen");
    CHECK(!url_split_server("ws://host/cam.1", base, sizeof(base), id, sizeof(id), err, sizeof(err)));
    CHECK_CONTAINS(err, "camera id");
    CHECK(!url_split_server("ftp://host", base, sizeof(base), id, sizeof(id), err, sizeof(err)));
    char tiny[8];
    CHECK(!url_split_server("ws://host:8765", tiny, sizeof(tiny), id, sizeof(id), err, sizeof(err)));

    /* normalizing (the stored form keeps a path prefix) */
    CHECK(url_normalize("WS://Proxy.example:80/cams/", base, sizeof(base), err, sizeof(err)));
    CHECK_STR(base, "ws://Proxy.example:80/cams");
    CHECK(url_normalize("WSS://Proxy.example/cams/", base, sizeof(base), err, sizeof(err)));
    CHECK_STR(base, "wss://Proxy.example/cams");
    CHECK(url_normalize("wss://h:443", base, sizeof(base), err, sizeof(err)));
    CHECK_STR(base, "wss://h:443");   /* a given port stays, even the default one */
    CHECK(url_normalize("ws://h", base, sizeof(base), err, sizeof(err)));
    CHECK_STR(base, "ws://h");
    CHECK(!url_normalize("ws://h?x", base, sizeof(base), err, sizeof(err)));
    CHECK(!url_normalize("ws://host:8765", tiny, sizeof(tiny), err, sizeof(err)));
    CHECK_STR(tiny, "");

    /* building the stream URL */
    char out[URL_MAX_LEN + CAMERA_ID_MAX_LEN + 2];
    CHECK(url_build_stream("ws://192.168.1.20:8765", "cam1", out, sizeof(out)));
    CHECK_STR(out, "ws://192.168.1.20:8765/cam1");
    CHECK(url_build_stream("ws://h:1/", "cam1", out, sizeof(out)));
    CHECK_STR(out, "ws://h:1/cam1");
    CHECK(url_build_stream("ws://p/cams", "x", out, sizeof(out)));
    CHECK_STR(out, "ws://p/cams/x");
    CHECK(url_build_stream("wss://p:8765", "x", out, sizeof(out)));
    CHECK_STR(out, "wss://p:8765/x");
    CHECK(!url_build_stream("ws://h", "bad id", out, sizeof(out)));
    CHECK_STR(out, "");
    CHECK(!url_build_stream("ws://h", "", out, sizeof(out)));
    CHECK(!url_build_stream("http://h", "cam", out, sizeof(out)));
    CHECK(!url_build_stream("ws://h", "cam", out, 8));
    CHECK(!url_build_stream("ws://h", "cam", NULL, 0));

    /* default id from the MAC */
    const uint8_t mac[6] = {0x10, 0x20, 0x30, 0xA1, 0x0B, 0xFF};
    url_default_camera_id(mac, id, sizeof(id));
    CHECK_STR(id, "atoms3r-a10bff");
    CHECK(url_camera_id_valid(id));
    char small_id[5];
    url_default_camera_id(mac, small_id, sizeof(small_id));
    CHECK_STR(small_id, "atom");
    return check_report("test_url");
}
