#include "app_settings.h"

#include <stdio.h>
#include <string.h>

#include "esp_log.h"
#include "esp_mac.h"
#include "freertos/FreeRTOS.h"
#include "freertos/semphr.h"
#include "sdkconfig.h"
#include "storage.h"
#include "url.h"

static const char *TAG = "settings";

static SemaphoreHandle_t s_lock;
static settings_t s_settings;
static unsigned s_dirty;

static void apply_kconfig_default(settings_t *s, setting_id_t id, const char *value)
{
    char why[160];
    if (value[0] == '\0' && (id == SETTING_SSID || id == SETTING_SERVER || id == SETTING_CAMERA_ID ||
                             id == SETTING_TOKEN || id == SETTING_PASSWORD)) {
        return; /* empty string default: keep "not set" */
    }
    if (!settings_set(s, id, value, why, sizeof(why))) {
        ESP_LOGW(TAG, "menuconfig default ignored: %s", why);
    }
}

void app_settings_init(void)
{
    s_lock = xSemaphoreCreateMutex();
    configASSERT(s_lock);

    settings_t s;
    settings_defaults(&s);
    char num[12];
    apply_kconfig_default(&s, SETTING_SSID, CONFIG_CAMSTREAM_WIFI_SSID);
    apply_kconfig_default(&s, SETTING_PASSWORD, CONFIG_CAMSTREAM_WIFI_PASSWORD);
    if (CONFIG_CAMSTREAM_SERVER_URL[0] != '\0') {
        char why[160];
        if (!settings_set_server_input(&s, CONFIG_CAMSTREAM_SERVER_URL, why, sizeof(why))) {
            ESP_LOGW(TAG, "menuconfig default ignored: %s", why);
        }
    }
    apply_kconfig_default(&s, SETTING_CAMERA_ID, CONFIG_CAMSTREAM_CAMERA_ID); /* wins over a URL path */
    apply_kconfig_default(&s, SETTING_TOKEN, CONFIG_CAMSTREAM_TOKEN);
    apply_kconfig_default(&s, SETTING_FRAMESIZE, CONFIG_CAMSTREAM_FRAMESIZE);
    snprintf(num, sizeof(num), "%d", CONFIG_CAMSTREAM_QUALITY);
    apply_kconfig_default(&s, SETTING_QUALITY, num);
    snprintf(num, sizeof(num), "%d", CONFIG_CAMSTREAM_FPS);
    apply_kconfig_default(&s, SETTING_FPS, num);
#if CONFIG_CAMSTREAM_VFLIP
    apply_kconfig_default(&s, SETTING_VFLIP, "on");
#else
    apply_kconfig_default(&s, SETTING_VFLIP, "off");
#endif
#if CONFIG_CAMSTREAM_HMIRROR
    apply_kconfig_default(&s, SETTING_HMIRROR, "on");
#else
    apply_kconfig_default(&s, SETTING_HMIRROR, "off");
#endif
    storage_load(&s);

    xSemaphoreTake(s_lock, portMAX_DELAY);
    s_settings = s;
    s_dirty = 0;
    xSemaphoreGive(s_lock);
}

void app_settings_get(settings_t *out)
{
    xSemaphoreTake(s_lock, portMAX_DELAY);
    *out = s_settings;
    xSemaphoreGive(s_lock);
}

/* Call with s_lock held; returns the changed mask (caller saves). */
static unsigned commit_locked(const settings_t *next)
{
    unsigned changed = settings_diff(&s_settings, next);
    s_settings = *next;
    s_dirty |= changed;
    return changed;
}

static void save(unsigned changed)
{
    if (changed) {
        settings_t copy;
        app_settings_get(&copy);
        storage_save(&copy, changed);
    }
}

unsigned app_settings_update(const settings_t *src, unsigned mask)
{
    xSemaphoreTake(s_lock, portMAX_DELAY);
    settings_t next = s_settings;
    for (int i = 0; i < SETTING_COUNT; i++) {
        if (mask & SETTING_BIT(i)) {
            char value[SETTINGS_VALUE_MAX + 1];
            settings_format(src, (setting_id_t)i, false, value, sizeof(value));
            if (!settings_set(&next, (setting_id_t)i, value, NULL, 0)) {
                ESP_LOGE(TAG, "update of %s refused", settings_info((setting_id_t)i)->name);
            }
        }
    }
    unsigned changed = commit_locked(&next);
    xSemaphoreGive(s_lock);
    save(changed);
    return changed;
}

bool app_settings_set(setting_id_t id, const char *value, char *err, size_t err_len)
{
    xSemaphoreTake(s_lock, portMAX_DELAY);
    settings_t next = s_settings;
    bool ok = settings_set(&next, id, value, err, err_len);
    unsigned changed = ok ? commit_locked(&next) : 0;
    xSemaphoreGive(s_lock);
    save(changed);
    return ok;
}

bool app_settings_set_cacert(const char *pem, size_t len)
{
    if (storage_save_cacert(pem, len) != ESP_OK) {
        return false;
    }
    xSemaphoreTake(s_lock, portMAX_DELAY);
    s_dirty |= APP_SETTINGS_CACERT_BIT;
    xSemaphoreGive(s_lock);
    return true;
}

unsigned app_settings_take_dirty(unsigned mask)
{
    xSemaphoreTake(s_lock, portMAX_DELAY);
    unsigned bits = s_dirty & mask;
    s_dirty &= ~mask;
    xSemaphoreGive(s_lock);
    return bits;
}

void app_settings_default_id(char *out, size_t out_len)
{
    uint8_t mac[6] = {0};
    if (esp_read_mac(mac, ESP_MAC_WIFI_STA) != ESP_OK) {
        memset(mac, 0, sizeof(mac));
    }
    url_default_camera_id(mac, out, out_len);
}

void app_settings_camera_id(const settings_t *s, char *out, size_t out_len)
{
    if (s->camera_id[0]) {
        snprintf(out, out_len, "%s", s->camera_id);
    } else {
        app_settings_default_id(out, out_len);
    }
}
