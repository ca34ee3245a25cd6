#include "stream.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_settings.h"
#include "backoff.h"
#include "board.h"
#include "camera.h"
#include "control.h"
#include "esp_crt_bundle.h"
#include "esp_log.h"
#include "esp_random.h"
#include "esp_system.h"
#include "esp_timer.h"
#include "esp_tls_errors.h"
#include "esp_websocket_client.h"
#include "framesize.h"
#include "freertos/FreeRTOS.h"
#include "freertos/queue.h"
#include "freertos/task.h"
#include "mbedtls/x509.h"
#include "pacing.h"
#include "pem.h"
#include "sdkconfig.h"
#include "storage.h"
#include "trust.h"
#include "url.h"
#include "version.h"
#include "wifi.h"

/* trust.c explains certificate failures from these mbedTLS flags without including mbedTLS. */
_Static_assert(TRUST_BADCERT_EXPIRED == MBEDTLS_X509_BADCERT_EXPIRED, "mbedTLS flag");
_Static_assert(TRUST_BADCERT_CN_MISMATCH == MBEDTLS_X509_BADCERT_CN_MISMATCH, "mbedTLS flag");
_Static_assert(TRUST_BADCERT_NOT_TRUSTED == MBEDTLS_X509_BADCERT_NOT_TRUSTED, "mbedTLS flag");
_Static_assert(TRUST_BADCERT_FUTURE == MBEDTLS_X509_BADCERT_FUTURE, "mbedTLS flag");
_Static_assert(TRUST_BADCERT_KEY_USAGE == MBEDTLS_X509_BADCERT_KEY_USAGE, "mbedTLS flag");
_Static_assert(TRUST_BADCERT_EXT_KEY_USAGE == MBEDTLS_X509_BADCERT_EXT_KEY_USAGE, "mbedTLS flag");
_Static_assert(TRUST_BADCERT_BAD_MD == MBEDTLS_X509_BADCERT_BAD_MD, "mbedTLS flag");
_Static_assert(TRUST_BADCERT_BAD_PK == MBEDTLS_X509_BADCERT_BAD_PK, "mbedTLS flag");
_Static_assert(TRUST_BADCERT_BAD_KEY == MBEDTLS_X509_BADCERT_BAD_KEY, "mbedTLS flag");

static const char *TAG = "stream";

#define WS_BUFFER_SIZE (16 * 1024)       /* fewer frames and copies per JPEG */
#define WS_TASK_STACK 6144
#define WS_TASK_STACK_TLS 8192           /* the TLS handshake runs in the websocket task */
#define WS_RECONNECT_BASE_MS 1000
#define WS_RECONNECT_MAX_MS 30000
#define IDLE_POLL_MS 100
#define CAMERA_FAILS_BEFORE_RESTART 3
#define CAMERA_RETRY_BASE_MS 2000
#define CAMERA_RETRY_MAX_MS 60000
#define STATS_LOG_INTERVAL_US (60LL * 1000000)
#define CONTROL_QUEUE_LEN 4

#if CONFIG_CAMSTREAM_SEND_HELLO
#define SEND_HELLO true
#else
#define SEND_HELLO false
#endif

typedef struct {
    char *text;
    size_t len;
} control_msg_t;

static esp_websocket_client_handle_t s_client;
static QueueHandle_t s_control_queue;
static volatile bool s_connected;
static volatile bool s_hello_pending;
static volatile bool s_link_proven;      /* a frame went through since the last connect */
static volatile bool s_backoff_reset_req; /* from the streaming task to the websocket task */
static backoff_t s_ws_backoff;           /* used in the websocket task only */

/*
 * The CA set of a wss:// connection. esp_websocket_client keeps the pointer (it does not copy
 * cert_pem), so it lives here and only changes while no client exists (ws_create).
 */
static char s_ca_pem[PEM_MAX_LEN + 1];
static trust_mode_t s_trust;             /* of the client that exists; read by its event handler */
static char s_host[URL_HOST_MAX + 1];    /* for messages about the server's certificate */

/* The hello last sent on this connection: a new one goes out when the settings differ. */
static char s_hello_sent[CONTROL_HELLO_MAX];

/* receive buffer for one text message (websocket task only) */
static char s_rx[CONTROL_MSG_MAX + 1];
static bool s_rx_skip;

static portMUX_TYPE s_mux = portMUX_INITIALIZER_UNLOCKED;
static stream_status_t s_status;         /* guarded by s_mux */
static int64_t s_last_frame_us = -1;

#define STATUS_UPDATE(stmt)          \
    do {                             \
        portENTER_CRITICAL(&s_mux);  \
        stmt;                        \
        portEXIT_CRITICAL(&s_mux);   \
    } while (0)

/* ------------------------------------------------------------------ websocket events */

/* Bounded copy for use inside critical sections (no snprintf there). */
static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) {
        n = cap - 1;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void set_last_error(const char *msg)
{
    STATUS_UPDATE(copy_str(s_status.last_error, sizeof(s_status.last_error), msg));
}

static void schedule_reconnect(esp_websocket_client_handle_t client)
{
    if (s_backoff_reset_req || s_link_proven) {
        backoff_reset(&s_ws_backoff);
        s_backoff_reset_req = false;
    }
    s_link_proven = false;
    uint32_t delay_ms = backoff_next(&s_ws_backoff, esp_random());
    esp_err_t err = esp_websocket_client_set_reconnect_timeout(client, (int)delay_ms);
    if (err == ESP_OK) {
        ESP_LOGI(TAG, "reconnecting in %" PRIu32 " ms", delay_ms);
    }
}

static void on_text(const esp_websocket_event_data_t *d)
{
    if (d->payload_offset == 0) {
        s_rx_skip = d->payload_len > CONTROL_MSG_MAX || d->payload_len < 0;
        if (s_rx_skip) {
            ESP_LOGW(TAG, "control message of %d bytes ignored (max %d)", d->payload_len, CONTROL_MSG_MAX);
        }
    }
    if (s_rx_skip || d->data_len < 0 || d->payload_offset < 0 ||
        d->payload_offset + d->data_len > d->payload_len) {
        return;
    }
    if (d->data_len > 0 && d->data_ptr != NULL) {
        memcpy(s_rx + d->payload_offset, d->data_ptr, (size_t)d->data_len);
    }
    if (d->payload_offset + d->data_len < d->payload_len) {
        return; /* more DATA events follow for this message */
    }
    control_msg_t msg = {.text = malloc((size_t)d->payload_len + 1), .len = (size_t)d->payload_len};
    if (msg.text == NULL) {
        return;
    }
    memcpy(msg.text, s_rx, msg.len);
    msg.text[msg.len] = '\0';
    if (xQueueSend(s_control_queue, &msg, 0) != pdTRUE) {
        ESP_LOGW(TAG, "control queue full: message dropped");
        free(msg.text);
    }
}

static void on_ws_event(void *arg, esp_event_base_t base, int32_t id, void *event_data)
{
    (void)arg;
    (void)base;
    const esp_websocket_event_data_t *d = event_data;
    switch (id) {
    case WEBSOCKET_EVENT_CONNECTED:
        ESP_LOGI(TAG, "connected to the server");
        s_connected = true;
        s_hello_pending = true;
        STATUS_UPDATE(s_status.connects++; s_status.connected = true; s_status.last_http_status = 0;
                      s_status.last_error[0] = '\0');
        break;
    case WEBSOCKET_EVENT_DISCONNECTED:
    case WEBSOCKET_EVENT_CLOSED: {
        bool was = s_connected;
        s_connected = false;
        /* the handshake status is only meaningful when connecting failed */
        int http = (!was && d) ? d->error_handle.esp_ws_handshake_status_code : 0;
        STATUS_UPDATE(s_status.connected = false; if (was) s_status.disconnects++;
                      if (http >= 300) s_status.last_http_status = http);
        bool tls_failed = !was && d && s_trust != TRUST_PLAIN &&
                          d->error_handle.error_type == WEBSOCKET_ERROR_TYPE_TCP_TRANSPORT &&
                          (d->error_handle.esp_tls_cert_verify_flags != 0 ||
                           d->error_handle.esp_tls_last_esp_err == ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED);
        if (tls_failed) {
            char why[sizeof(s_status.last_error)];
            trust_explain_failure(s_trust, (uint32_t)d->error_handle.esp_tls_cert_verify_flags, s_host, why,
                                  sizeof(why));
            set_last_error(why);
            ESP_LOGW(TAG, "%s", why);
        } else if (http == 401 || http == 403) {
            set_last_error("server refused the token (HTTP 401/403): check 'token'");
        } else if (http == 404) {
            set_last_error("server refused the path (HTTP 404): check 'server' and 'camera'");
        } else if (http >= 300) {
            set_last_error("WebSocket handshake refused by the server");
        } else if (id == WEBSOCKET_EVENT_CLOSED) {
            set_last_error("server closed the connection");
        } else if (!was) {
            set_last_error("cannot reach the server (is it running? right address/port?)");
        } else {
            set_last_error("connection lost");
        }
        ESP_LOGW(TAG, "%s%s", id == WEBSOCKET_EVENT_CLOSED ? "closed by the server" : "disconnected",
                 http >= 300 ? " (handshake refused)" : "");
        if (d && d->client) {
            schedule_reconnect(d->client);
        }
        break;
    }
    case WEBSOCKET_EVENT_DATA:
        if (d && d->op_code == 0x1) { /* text; 0x2 binary, 0x8 close, 0x9/0xA ping/pong */
            on_text(d);
        }
        break;
    case WEBSOCKET_EVENT_ERROR:
        ESP_LOGW(TAG, "websocket error");
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------ client lifecycle */

static void ws_destroy(void)
{
    if (s_client) {
        esp_websocket_client_destroy(s_client); /* stops the client task first */
        s_client = NULL;
    }
    s_connected = false;
    s_hello_pending = false;
    STATUS_UPDATE(s_status.connected = false);
}

/*
 * Chooses what a wss:// connection trusts and sets cfg for it: the stored CA set (console
 * `cacert`), else the ESP-IDF certificate bundle of public CAs. False (and a last_error saying
 * why) when it cannot be set up; the client is then not started.
 */
static bool setup_tls(esp_websocket_client_config_t *cfg, int *ca_certs)
{
    size_t len = 0;
    esp_err_t err = storage_load_cacert(s_ca_pem, sizeof(s_ca_pem), &len);
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "reading the stored CA certificate: %s", esp_err_to_name(err));
        set_last_error("cannot read the stored CA certificate: set it again with 'cacert set'");
        return false;
    }
    if (len > 0) {
        pem_info_t info;
        char why[PEM_ERR_MAX + 1];
        if (!pem_validate(s_ca_pem, len, &info, why, sizeof(why))) {
            ESP_LOGE(TAG, "the stored CA certificate is invalid: %s", why);
            set_last_error("the stored CA certificate is invalid: 'cacert set' or 'cacert clear'");
            return false;
        }
        cfg->cert_pem = s_ca_pem; /* NUL-terminated PEM: cert_len stays 0 */
        s_trust = TRUST_CUSTOM;
        *ca_certs = info.certs;
        return true;
    }
#if CONFIG_MBEDTLS_CERTIFICATE_BUNDLE
    cfg->crt_bundle_attach = esp_crt_bundle_attach;
    s_trust = TRUST_BUNDLE;
    return true;
#else
    ESP_LOGE(TAG, "wss:// without 'cacert' needs CONFIG_MBEDTLS_CERTIFICATE_BUNDLE");
    set_last_error("no CA to trust: set one with 'cacert set' (this build has no certificate bundle)");
    return false;
#endif
}

static void ws_create(const settings_t *s)
{
    char camera_id[CAMERA_ID_MAX_LEN + 1];
    char url[sizeof(s_status.url)];
    char headers[SETTINGS_TOKEN_MAX + 32];

    ws_destroy();
    if (s->server[0] == '\0') {
        STATUS_UPDATE(s_status.configured = false; s_status.url[0] = '\0');
        return;
    }
    app_settings_camera_id(s, camera_id, sizeof(camera_id));
    if (!url_build_stream(s->server, camera_id, url, sizeof(url))) {
        ESP_LOGE(TAG, "cannot build the stream URL from %s and %s", s->server, camera_id);
        set_last_error("invalid server URL / camera id");
        return;
    }
    url_parts_t parts;
    bool tls = url_parse(s->server, &parts, NULL, 0) && parts.tls;
    copy_str(s_host, sizeof(s_host), parts.host);
    s_trust = TRUST_PLAIN;
    int ca_certs = 0;
    STATUS_UPDATE(s_status.configured = true; copy_str(s_status.url, sizeof(s_status.url), url);
                  s_status.trust = TRUST_PLAIN; s_status.ca_certs = 0);

    esp_websocket_client_config_t cfg = {
        .uri = url,
        .buffer_size = WS_BUFFER_SIZE,
        .reconnect_timeout_ms = WS_RECONNECT_BASE_MS,
        .network_timeout_ms = 10000,
        .enable_close_reconnect = true,    /* reconnect after a server restart's clean close */
        .transport = tls ? WEBSOCKET_TRANSPORT_OVER_SSL : WEBSOCKET_TRANSPORT_OVER_TCP,
        .task_stack = tls ? WS_TASK_STACK_TLS : WS_TASK_STACK,
        .task_prio = 5,
        .ping_interval_sec = 10,
        .pingpong_timeout_sec = 30,
        .keep_alive_enable = true,
        .keep_alive_idle = 5,
        .keep_alive_interval = 5,
        .keep_alive_count = 3,
        .user_agent = "atoms3r-camstream/" FIRMWARE_VERSION,
    };
    if (tls && !setup_tls(&cfg, &ca_certs)) {
        return;
    }
    STATUS_UPDATE(s_status.trust = s_trust; s_status.ca_certs = ca_certs);
    if (s->token[0]) {
        /* the token's characters are validated (printable, no spaces/CR/LF) by settings.c */
        snprintf(headers, sizeof(headers), "Authorization: Bearer %s\r\n", s->token);
        cfg.headers = headers;
    }
    backoff_init(&s_ws_backoff, WS_RECONNECT_BASE_MS, WS_RECONNECT_MAX_MS);
    s_link_proven = false;
    s_backoff_reset_req = false;
    s_client = esp_websocket_client_init(&cfg); /* copies every string */
    if (s_client == NULL) {
        ESP_LOGE(TAG, "esp_websocket_client_init failed");
        set_last_error("websocket client init failed");
        return;
    }
    esp_websocket_register_events(s_client, WEBSOCKET_EVENT_ANY, on_ws_event, NULL);
    esp_err_t err = esp_websocket_client_start(s_client);
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "esp_websocket_client_start: %s", esp_err_to_name(err));
        esp_websocket_client_destroy(s_client);
        s_client = NULL;
        return;
    }
    ESP_LOGI(TAG, "streaming to %s%s; TLS trust: %s", url, s->token[0] ? " (with token)" : "",
             trust_mode_name(s_trust));
}

/* ------------------------------------------------------------------ messages to the server */

static TickType_t send_timeout_ticks(void)
{
    return pdMS_TO_TICKS(CONFIG_CAMSTREAM_SEND_TIMEOUT_MS);
}

static bool send_text(const char *text)
{
    if (s_client == NULL || !s_connected) {
        return false;
    }
    int len = (int)strlen(text);
    if (esp_websocket_client_send_text(s_client, text, len, send_timeout_ticks()) != len) {
        ESP_LOGW(TAG, "sending a text message failed");
        return false;
    }
    return true;
}

/*
 * Sends the hello when the connection is new (s_hello_pending) or when what it would say
 * differs from what this connection was last told: after a config message, a console command,
 * or the camera falling back to another frame size. So the server always knows the current
 * settings without a second message type.
 */
static void update_hello(const settings_t *s)
{
    static char text[CONTROL_HELLO_MAX]; /* stream task only */
    cam_info_t cam;
    camera_get_info(&cam);
    char camera_id[CAMERA_ID_MAX_LEN + 1];
    app_settings_camera_id(s, camera_id, sizeof(camera_id));
    control_hello_t h = {
        .camera_id = camera_id,
        .board = board_name(cam.sensor),
        .sensor = board_sensor_name(cam.sensor),
        .firmware = FIRMWARE_VERSION,
        .sensor_kind = cam.sensor,
        .framesize = cam.framesize, /* in use, which is what the frames show */
        .fps = s->fps,
        .quality = s->quality,
        .vflip = s->vflip,
        .hmirror = s->hmirror,
    };
    if (!control_format_hello(&h, text, sizeof(text))) {
        ESP_LOGE(TAG, "hello does not fit in %d bytes", CONTROL_HELLO_MAX);
        return;
    }
    if (!s_hello_pending && strcmp(text, s_hello_sent) == 0) {
        return;
    }
    s_hello_pending = false;
    if (send_text(text)) {
        memcpy(s_hello_sent, text, sizeof(s_hello_sent));
    } else {
        s_hello_sent[0] = '\0'; /* try again before the next frame */
    }
}

/*
 * Re-reads the settings into *cur and applies the camera ones. If the camera could not take a
 * new frame size (it stays on the old one), the saved setting goes back to prev_framesize so
 * settings and camera agree. Returns false in that case.
 */
static bool apply_camera_settings(settings_t *cur, int prev_framesize, pacing_t *pace)
{
    app_settings_take_dirty(SETTINGS_CAMERA_BITS); /* everything pending is applied now */
    app_settings_get(cur);
    pacing_set_fps(pace, cur->fps);
    STATUS_UPDATE(s_status.target_fps = (uint32_t)cur->fps);
    cam_info_t cam;
    camera_get_info(&cam);
    if (!cam.ready) {
        return true; /* used when the camera starts */
    }
    if (camera_apply(cur) == ESP_OK || cur->framesize == prev_framesize) {
        return true;
    }
    ESP_LOGW(TAG, "frame size %s could not be used; keeping %s", framesize_name(cur->framesize),
             framesize_name(prev_framesize));
    settings_t back = *cur;
    back.framesize = prev_framesize;
    app_settings_update(&back, SETTING_BIT(SETTING_FRAMESIZE));
    app_settings_take_dirty(SETTING_BIT(SETTING_FRAMESIZE));
    app_settings_get(cur);
    return false;
}

/* Validates, applies, saves and acknowledges one control message. */
static void handle_control(control_msg_t *msg, settings_t *cur, pacing_t *pace)
{
    static control_result_t res; /* large; only this task uses it */
    static char ack[2048];
    cam_info_t cam;
    camera_get_info(&cam);
    settings_t next = *cur;
    STATUS_UPDATE(s_status.controls_received++);
    control_kind_t kind = control_handle(msg->text, msg->len, cam.sensor, &next, &res);
    if (kind == CONTROL_INVALID) {
        ESP_LOGW(TAG, "invalid control message ignored: %s", res.error);
        return;
    }
    if (kind == CONTROL_IGNORED) {
        ESP_LOGI(TAG, "control message of type \"%s\" ignored", res.type);
        return;
    }
    if (res.applied) {
        int prev_framesize = cur->framesize;
        app_settings_update(&next, res.applied); /* saved to NVS */
        if (!apply_camera_settings(cur, prev_framesize, pace) && (res.applied & SETTING_BIT(SETTING_FRAMESIZE))) {
            res.applied &= ~SETTING_BIT(SETTING_FRAMESIZE);
            if (res.rejected_count < JSON_MAX_MEMBERS) {
                control_rejection_t *r = &res.rejected[res.rejected_count++];
                snprintf(r->key, sizeof(r->key), "framesize");
                snprintf(r->reason, sizeof(r->reason), "the camera could not be re-initialised at this size");
            }
        }
    }
    for (int i = 0; i < res.rejected_count; i++) {
        ESP_LOGW(TAG, "config %s refused: %s", res.rejected[i].key, res.rejected[i].reason);
    }
    if (control_format_ack(&res, cur, ack, sizeof(ack))) {
        send_text(ack);
    } else {
        send_text("{\"type\":\"config_ack\",\"applied\":{},\"rejected\":{\"message\":\"reply too long\"}}");
    }
    if (res.applied) {
        s_hello_pending = true; /* an ack that applied something is always followed by a hello */
    }
}

/* ------------------------------------------------------------------ the task */

static bool is_configured(const settings_t *s)
{
    return s->ssid[0] != '\0' && s->server[0] != '\0';
}

static void log_stats(void)
{
    stream_status_t st;
    stream_get_status(&st);
    ESP_LOGI(TAG, "%" PRIu32 " frames sent, %" PRIu32 " dropped, %" PRIu32 ".%02" PRIu32 " fps, last %" PRIu32 " bytes",
             st.frames_sent, st.frames_dropped, st.fps_x100 / 100, st.fps_x100 % 100, st.last_frame_bytes);
}

static void stream_task(void *arg)
{
    (void)arg;
    settings_t cur;
    app_settings_get(&cur);
    app_settings_take_dirty(SETTINGS_CAMERA_BITS | SETTINGS_SERVER_BITS);

    pacing_t pace;
    rate_meter_t meter;
    pacing_init(&pace, cur.fps);
    rate_meter_init(&meter, 2000000);
    STATUS_UPDATE(s_status.target_fps = (uint32_t)cur.fps);

    backoff_t cam_backoff;
    backoff_init(&cam_backoff, CAMERA_RETRY_BASE_MS, CAMERA_RETRY_MAX_MS);
    bool camera_ok = camera_start(&cur) == ESP_OK;
    int64_t camera_retry_at = 0;
    int capture_fails = 0;

    uint32_t wifi_gen = 0;
    int64_t last_ok_us = esp_timer_get_time();
    int64_t last_stats_us = last_ok_us;
    bool ws_wanted = false;   /* created once Wi-Fi first came up */

    for (;;) {
        int64_t now = esp_timer_get_time();

        if (camera_ok) {
            cam_info_t ci;
            camera_get_info(&ci);
            if (!ci.ready) { /* a re-init for a new frame size failed completely */
                camera_ok = false;
                camera_retry_at = 0;
            }
        }

        /* settings changed on the console */
        unsigned dirty =
            app_settings_take_dirty(SETTINGS_SERVER_BITS | SETTINGS_WIFI_BITS | APP_SETTINGS_CACERT_BIT);
        if (dirty) {
            app_settings_get(&cur);
            last_ok_us = now; /* give a new configuration time before the stall check */
        }
        if (app_settings_take_dirty(SETTINGS_CAMERA_BITS)) {
            int prev_framesize = cur.framesize;
            app_settings_get(&cur);
            apply_camera_settings(&cur, prev_framesize, &pace);
        }
        if (dirty) {
            if ((dirty & (SETTINGS_SERVER_BITS | APP_SETTINGS_CACERT_BIT)) && ws_wanted) {
                ws_create(&cur);
            }
        }

        /* Wi-Fi (re)connected: start the client, or cut its pending backoff short */
        wifi_status_t ws;
        wifi_get_status(&ws);
        if (ws.connected && ws.generation != wifi_gen) {
            wifi_gen = ws.generation;
            if (!ws_wanted) {
                ws_wanted = true;
                ws_create(&cur);
            } else if (s_client && !s_connected) {
                s_backoff_reset_req = true;
                esp_websocket_client_set_reconnect_timeout(s_client, 500);
            }
        }

        /* camera bring-up and recovery, with backoff */
        if (!camera_ok && now >= camera_retry_at) {
            camera_ok = camera_restart(&cur) == ESP_OK;
            if (camera_ok) {
                backoff_reset(&cam_backoff);
                capture_fails = 0;
            } else {
                camera_retry_at = now + (int64_t)backoff_next(&cam_backoff, esp_random()) * 1000;
            }
        }

        /* safety net for unattended cameras */
        if (is_configured(&cur) && pacing_stalled(last_ok_us, now, CONFIG_CAMSTREAM_STALL_RESTART_S)) {
            ESP_LOGE(TAG, "no frame delivered for %d s: restarting", CONFIG_CAMSTREAM_STALL_RESTART_S);
            vTaskDelay(pdMS_TO_TICKS(200));
            esp_restart();
        }

        if (now - last_stats_us >= STATS_LOG_INTERVAL_US) {
            last_stats_us = now;
            log_stats();
        }

        /* wait for the next frame's deadline, but wake at once for a control message */
        TickType_t wait = pdMS_TO_TICKS(IDLE_POLL_MS);
        bool can_stream = camera_ok && s_client != NULL && s_connected;
        if (can_stream) {
            int64_t delay_us = pacing_delay_us(&pace, now);
            wait = pdMS_TO_TICKS((delay_us + 999) / 1000);
            if (wait == 0) {
                wait = 1; /* always yield a tick, even when behind schedule */
            }
        } else {
            pacing_reset(&pace);
        }
        control_msg_t msg;
        if (xQueueReceive(s_control_queue, &msg, wait) == pdTRUE) {
            handle_control(&msg, &cur, &pace);
            free(msg.text);
            continue; /* re-check the deadline */
        }
        if (!can_stream) {
            continue;
        }
        if (SEND_HELLO) {
            update_hello(&cur); /* after a config_ack, before the next frame */
        }

        now = esp_timer_get_time();
        pacing_frame_started(&pace, now);
        camera_frame_t frame;
        if (!camera_capture(&frame)) {
            STATUS_UPDATE(s_status.frames_dropped++);
            if (++capture_fails >= CAMERA_FAILS_BEFORE_RESTART) {
                ESP_LOGW(TAG, "%d captures failed in a row", capture_fails);
                camera_ok = false;
                camera_retry_at = 0;
            }
            continue;
        }
        capture_fails = 0;
        /* one JPEG = one binary message; a slow link fails the send instead of queueing frames */
        int sent = esp_websocket_client_send_bin(s_client, (const char *)frame.data, (int)frame.len,
                                                 send_timeout_ticks());
        size_t bytes = frame.len;
        camera_release(&frame);
        now = esp_timer_get_time();
        if (sent == (int)bytes) {
            s_link_proven = true;
            last_ok_us = now;
            rate_meter_tick(&meter, now);
            STATUS_UPDATE(s_status.frames_sent++; s_status.last_frame_bytes = (uint32_t)bytes;
                          s_last_frame_us = now);
        } else {
            STATUS_UPDATE(s_status.frames_dropped++; s_status.send_failures++);
        }
        uint32_t fps = rate_meter_fps_x100(&meter, now);
        STATUS_UPDATE(s_status.fps_x100 = fps);
    }
}

void stream_start(void)
{
    s_control_queue = xQueueCreate(CONTROL_QUEUE_LEN, sizeof(control_msg_t));
    configASSERT(s_control_queue);
    /* core 1: JPEG encoding stays away from Wi-Fi (core 0) */
    BaseType_t ok = xTaskCreatePinnedToCore(stream_task, "stream", 8192, NULL, 5, NULL, 1);
    configASSERT(ok == pdPASS);
}

void stream_get_status(stream_status_t *st)
{
    portENTER_CRITICAL(&s_mux);
    *st = s_status;
    int64_t last = s_last_frame_us;
    portEXIT_CRITICAL(&s_mux);
    int64_t now = esp_timer_get_time();
    st->last_frame_age_ms = last < 0 ? -1 : (now - last) / 1000;
    if (!st->connected || last < 0 || now - last > 3000000) {
        st->fps_x100 = 0; /* not streaming right now */
    }
}
