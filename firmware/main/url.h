/*
 * Server URL and camera id rules. Portable: no ESP-IDF includes.
 *
 * The stream URL is  <server>/<camera_id>,  e.g. ws://192.168.1.20:8765/kitchen.
 *   server:    ws://HOST[:PORT][/PREFIX...] or wss://... (TLS), no user info, query or fragment.
 *              Without a port, ws:// means 80 and wss:// 443 (what esp_websocket_client uses).
 *   camera id: 1-64 characters from A-Z a-z 0-9 _ -
 * When the user TYPES a server URL with a path, its last segment is the camera id
 * (url_split_server), so "ws://host:8765/kitchen" means server ws://host:8765, camera kitchen.
 * The stored server URL is used as it is (url_normalize), so a proxy prefix survives reloading.
 */
#ifndef URL_H
#define URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define URL_MAX_LEN 200        /* server URL, without the camera id */
#define URL_HOST_MAX 253
#define CAMERA_ID_MAX_LEN 64
#define URL_DEFAULT_SERVER_PORT 8765

typedef struct {
    char host[URL_HOST_MAX + 1];      /* as written; IPv6 keeps its brackets */
    bool tls;                         /* wss:// */
    unsigned port;                    /* 80 (ws) or 443 (wss) when not given */
    bool port_given;
    char path[URL_MAX_LEN + 1];       /* "" or "/a/b" (no trailing slash) */
} url_parts_t;

/* Parses and validates a ws:// or wss:// URL. */
bool url_parse(const char *url, url_parts_t *out, char *err, size_t err_len);

/* 1-64 characters from [A-Za-z0-9_-]. */
bool url_camera_id_valid(const char *id);

/* Canonical form of a server URL: lower-case scheme, no trailing slash; the path (a prefix,
 * e.g. behind a reverse proxy) is kept. This is what is stored. */
bool url_normalize(const char *input, char *out, size_t out_len, char *err, size_t err_len);

/*
 * Splits user input into the server base URL and, if the path has segments, the camera id
 * (the last segment). base gets e.g. "ws://host:8765" or "wss://host/prefix"; camera_id gets ""
 * when the input has no path. Returns false (with a reason) for invalid input.
 */
bool url_split_server(const char *input, char *base, size_t base_len, char *camera_id, size_t id_len,
                      char *err, size_t err_len);

/* base + "/" + camera_id. False when it does not fit or an argument is invalid. */
bool url_build_stream(const char *base, const char *camera_id, char *out, size_t out_len);

/* "atoms3r-" + last three MAC bytes in hex, e.g. "atoms3r-1a2b3c": unique per device. */
void url_default_camera_id(const uint8_t mac[6], char *out, size_t out_len);

/* True when url is a valid wss:// URL (the connection needs TLS and a trusted certificate). */
bool url_is_tls(const char *url);

#endif /* URL_H */
