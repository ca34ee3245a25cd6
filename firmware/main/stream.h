/*
 * The streaming task: camera bring-up, frame pacing, one binary WebSocket message per JPEG,
 * the optional hello (sent again whenever the camera settings change), and the server's config
 * messages. wss:// URLs use TLS and trust either the ESP-IDF certificate bundle (public CAs) or
 * the CA set stored with the console's `cacert` (see trust.h). The esp_websocket_client reconnects by
 * itself; this module feeds it backoff delays and restarts it when the server settings change.
 */
#ifndef STREAM_H
#define STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "trust.h"

typedef struct {
    bool configured;            /* a server URL is set */
    bool connected;
    char url[280];              /* stream URL in use (no token) */
    trust_mode_t trust;         /* plain ws://, or what a wss:// connection trusts */
    int ca_certs;               /* certificates in the custom CA set (TRUST_CUSTOM) */
    uint32_t connects;
    uint32_t disconnects;
    int last_http_status;       /* of a refused handshake, e.g. 401; 0 if none */
    char last_error[160];
    uint32_t frames_sent;
    uint32_t frames_dropped;    /* capture/encode/send failures */
    uint32_t send_failures;
    uint32_t last_frame_bytes;
    uint32_t fps_x100;          /* achieved, hundredths */
    uint32_t target_fps;
    uint32_t controls_received;
    int64_t last_frame_age_ms;  /* -1 if never */
} stream_status_t;

void stream_start(void);
void stream_get_status(stream_status_t *st);

#endif /* STREAM_H */
