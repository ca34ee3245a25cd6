#include "wifi.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "app_settings.h"
#include "backoff.h"
#include "esp_event.h"
#include "esp_log.h"
#include "esp_netif.h"
#include "esp_random.h"
#include "esp_timer.h"
#include "esp_wifi.h"
#include "freertos/FreeRTOS.h"

static const char *TAG = "wifi";

_Static_assert(sizeof(((wifi_status_t *)0)->ssid) == sizeof(((settings_t *)0)->ssid), "ssid buffers differ");

#define RETRY_BASE_MS 1000
#define RETRY_MAX_MS 30000

static esp_netif_t *s_netif;
static esp_timer_handle_t s_retry_timer;
static backoff_t s_backoff;            /* guarded by s_mux */
static portMUX_TYPE s_mux = portMUX_INITIALIZER_UNLOCKED;
static wifi_status_t s_status;         /* guarded by s_mux */
static volatile bool s_have_ssid;

static const char *reason_text(int reason)
{
    switch (reason) {
    case WIFI_REASON_NO_AP_FOUND:
        return "network not found (check the SSID; 2.4 GHz only)";
    case WIFI_REASON_AUTH_FAIL:
    case WIFI_REASON_4WAY_HANDSHAKE_TIMEOUT:
    case WIFI_REASON_HANDSHAKE_TIMEOUT:
        return "authentication failed (check the password)";
    case WIFI_REASON_ASSOC_FAIL:
    case WIFI_REASON_CONNECTION_FAIL:
        return "association failed";
    case WIFI_REASON_BEACON_TIMEOUT:
        return "lost the access point (beacon timeout)";
    case WIFI_REASON_AUTH_EXPIRE:
        return "authentication expired";
    case WIFI_REASON_ASSOC_LEAVE:
        return "disconnected";
    default:
        return "disconnected";
    }
}

static void connect_now(void)
{
    if (!s_have_ssid) {
        return;
    }
    esp_err_t err = esp_wifi_connect();
    if (err != ESP_OK) {
        ESP_LOGW(TAG, "esp_wifi_connect: %s", esp_err_to_name(err));
    }
}

static void retry_timer_cb(void *arg)
{
    (void)arg;
    connect_now();
}

static void schedule_retry(void)
{
    uint32_t r = esp_random();
    portENTER_CRITICAL(&s_mux);
    uint32_t delay_ms = backoff_next(&s_backoff, r);
    portEXIT_CRITICAL(&s_mux);
    esp_timer_stop(s_retry_timer); /* ESP_ERR_INVALID_STATE when not running: fine */
    esp_err_t err = esp_timer_start_once(s_retry_timer, (uint64_t)delay_ms * 1000);
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "retry timer: %s", esp_err_to_name(err));
    } else {
        ESP_LOGI(TAG, "reconnecting in %" PRIu32 " ms", delay_ms);
    }
}

static void on_wifi_event(void *arg, esp_event_base_t base, int32_t id, void *data)
{
    (void)arg;
    (void)base;
    if (id == WIFI_EVENT_STA_START) {
        portENTER_CRITICAL(&s_mux);
        s_status.started = true;
        portEXIT_CRITICAL(&s_mux);
        connect_now();
    } else if (id == WIFI_EVENT_STA_CONNECTED) {
        ESP_LOGI(TAG, "associated, waiting for an IP address");
    } else if (id == WIFI_EVENT_STA_DISCONNECTED) {
        const wifi_event_sta_disconnected_t *e = data;
        int reason = e ? e->reason : 0;
        portENTER_CRITICAL(&s_mux);
        bool was_connected = s_status.connected;
        s_status.connected = false;
        s_status.ip[0] = '\0';
        s_status.rssi = 0;
        s_status.last_reason = reason;
        s_status.last_reason_text = reason_text(reason);
        s_status.disconnects++;
        portEXIT_CRITICAL(&s_mux);
        ESP_LOGW(TAG, "%s (reason %d)%s", reason_text(reason), reason, was_connected ? ", link lost" : "");
        if (s_have_ssid) {
            schedule_retry();
        }
    }
}

static void on_ip_event(void *arg, esp_event_base_t base, int32_t id, void *data)
{
    (void)arg;
    (void)base;
    if (id == IP_EVENT_STA_GOT_IP) {
        const ip_event_got_ip_t *e = data;
        char ip[16];
        snprintf(ip, sizeof(ip), IPSTR, IP2STR(&e->ip_info.ip));
        portENTER_CRITICAL(&s_mux);
        backoff_reset(&s_backoff);
        s_status.connected = true;
        memcpy(s_status.ip, ip, sizeof(s_status.ip));
        s_status.generation++;
        portEXIT_CRITICAL(&s_mux);
        ESP_LOGI(TAG, "connected, IP %s", ip);
    } else if (id == IP_EVENT_STA_LOST_IP) {
        portENTER_CRITICAL(&s_mux);
        s_status.connected = false;
        s_status.ip[0] = '\0';
        portEXIT_CRITICAL(&s_mux);
        ESP_LOGW(TAG, "lost the IP address");
    }
}

/* Loads SSID/password from the settings into the driver. */
static esp_err_t load_config(void)
{
    settings_t s;
    app_settings_get(&s);
    wifi_config_t cfg = {0};
    /* ssid is uint8_t[32] and password uint8_t[64]: bounded copies, NUL only if room */
    size_t n = strlen(s.ssid);
    memcpy(cfg.sta.ssid, s.ssid, n > sizeof(cfg.sta.ssid) ? sizeof(cfg.sta.ssid) : n);
    n = strlen(s.password);
    memcpy(cfg.sta.password, s.password, n > sizeof(cfg.sta.password) ? sizeof(cfg.sta.password) : n);
    cfg.sta.scan_method = WIFI_ALL_CHANNEL_SCAN;      /* strongest AP of a mesh, not the first */
    cfg.sta.sort_method = WIFI_CONNECT_AP_BY_SIGNAL;
    cfg.sta.threshold.authmode = s.password[0] ? WIFI_AUTH_WEP : WIFI_AUTH_OPEN;
    esp_err_t err = esp_wifi_set_config(WIFI_IF_STA, &cfg);
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "esp_wifi_set_config: %s", esp_err_to_name(err));
        return err;
    }
    portENTER_CRITICAL(&s_mux);
    memcpy(s_status.ssid, s.ssid, sizeof(s_status.ssid)); /* both 33 bytes, NUL-terminated */
    portEXIT_CRITICAL(&s_mux);
    s_have_ssid = s.ssid[0] != '\0';
    return ESP_OK;
}

void wifi_start(void)
{
    backoff_init(&s_backoff, RETRY_BASE_MS, RETRY_MAX_MS);
    ESP_ERROR_CHECK(esp_netif_init());
    ESP_ERROR_CHECK(esp_event_loop_create_default());
    s_netif = esp_netif_create_default_wifi_sta();

    char hostname[32];
    app_settings_default_id(hostname, sizeof(hostname));
    esp_netif_set_hostname(s_netif, hostname);

    wifi_init_config_t init = WIFI_INIT_CONFIG_DEFAULT();
    ESP_ERROR_CHECK(esp_wifi_init(&init));
    ESP_ERROR_CHECK(esp_wifi_set_storage(WIFI_STORAGE_RAM)); /* credentials live in our own NVS keys */

    const esp_timer_create_args_t timer_args = {
        .callback = retry_timer_cb,
        .name = "wifi_retry",
    };
    ESP_ERROR_CHECK(esp_timer_create(&timer_args, &s_retry_timer));

    ESP_ERROR_CHECK(esp_event_handler_instance_register(WIFI_EVENT, ESP_EVENT_ANY_ID, on_wifi_event, NULL, NULL));
    ESP_ERROR_CHECK(esp_event_handler_instance_register(IP_EVENT, IP_EVENT_STA_GOT_IP, on_ip_event, NULL, NULL));
    ESP_ERROR_CHECK(esp_event_handler_instance_register(IP_EVENT, IP_EVENT_STA_LOST_IP, on_ip_event, NULL, NULL));

    ESP_ERROR_CHECK(esp_wifi_set_mode(WIFI_MODE_STA));
    ESP_ERROR_CHECK(load_config());
    ESP_ERROR_CHECK(esp_wifi_start());
    /* lowest latency: no modem sleep between frames (the default is WIFI_PS_MIN_MODEM) */
    ESP_ERROR_CHECK(esp_wifi_set_ps(WIFI_PS_NONE));
    if (!s_have_ssid) {
        ESP_LOGW(TAG, "no Wi-Fi configured: use the console command  wifi <ssid> <password>");
    }
}

void wifi_reconfigure(void)
{
    esp_timer_stop(s_retry_timer);
    portENTER_CRITICAL(&s_mux);
    backoff_reset(&s_backoff);
    portEXIT_CRITICAL(&s_mux);
    /* If a link or an attempt was up, this raises STA_DISCONNECTED, whose handler schedules the
     * next attempt; the timer below covers the case where nothing was going on. Either way
     * exactly one timer is pending, so attempts never overlap. */
    esp_wifi_disconnect();
    if (load_config() == ESP_OK && s_have_ssid) {
        esp_timer_start_once(s_retry_timer, 500 * 1000);
    }
}

bool wifi_is_connected(void)
{
    portENTER_CRITICAL(&s_mux);
    bool c = s_status.connected;
    portEXIT_CRITICAL(&s_mux);
    return c;
}

void wifi_get_status(wifi_status_t *st)
{
    portENTER_CRITICAL(&s_mux);
    *st = s_status;
    portEXIT_CRITICAL(&s_mux);
    if (st->connected) {
        wifi_ap_record_t ap;
        if (esp_wifi_sta_get_ap_info(&ap) == ESP_OK) {
            st->rssi = ap.rssi;
        }
    }
}
