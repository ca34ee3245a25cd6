#include "storage.h"

#include <string.h>

#include "esp_log.h"
#include "nvs.h"
#include "nvs_flash.h"

static const char *TAG = "storage";
static const char *NVS_NAMESPACE = "camstream";
static const char *NVS_KEY_CACERT = "cacert";

esp_err_t storage_init(void)
{
    esp_err_t err = nvs_flash_init();
    if (err == ESP_ERR_NVS_NO_FREE_PAGES || err == ESP_ERR_NVS_NEW_VERSION_FOUND) {
        ESP_LOGW(TAG, "NVS partition needs erasing (%s); settings go back to defaults", esp_err_to_name(err));
        err = nvs_flash_erase();
        if (err == ESP_OK) {
            err = nvs_flash_init();
        }
    }
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "nvs_flash_init failed: %s", esp_err_to_name(err));
    }
    return err;
}

esp_err_t storage_load(settings_t *s)
{
    nvs_handle_t h;
    esp_err_t err = nvs_open(NVS_NAMESPACE, NVS_READONLY, &h);
    if (err == ESP_ERR_NVS_NOT_FOUND) {
        ESP_LOGI(TAG, "no stored settings yet");
        return ESP_OK;
    }
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "nvs_open: %s", esp_err_to_name(err));
        return err;
    }
    for (int i = 0; i < SETTING_COUNT; i++) {
        const setting_info_t *info = settings_info((setting_id_t)i);
        char value[SETTINGS_VALUE_MAX + 1];
        size_t len = sizeof(value);
        err = nvs_get_str(h, info->nvs_key, value, &len);
        if (err == ESP_ERR_NVS_NOT_FOUND) {
            continue;
        }
        if (err != ESP_OK) {
            ESP_LOGW(TAG, "reading %s: %s (ignored)", info->nvs_key, esp_err_to_name(err));
            continue;
        }
        char why[160];
        if (!settings_set(s, (setting_id_t)i, value, why, sizeof(why))) {
            ESP_LOGW(TAG, "stored %s is invalid, using the default: %s", info->name, why);
        }
    }
    nvs_close(h);
    return ESP_OK;
}

esp_err_t storage_save(const settings_t *s, unsigned mask)
{
    if (mask == 0) {
        return ESP_OK;
    }
    nvs_handle_t h;
    esp_err_t err = nvs_open(NVS_NAMESPACE, NVS_READWRITE, &h);
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "nvs_open: %s", esp_err_to_name(err));
        return err;
    }
    esp_err_t first_err = ESP_OK;
    for (int i = 0; i < SETTING_COUNT; i++) {
        if (!(mask & SETTING_BIT(i))) {
            continue;
        }
        const setting_info_t *info = settings_info((setting_id_t)i);
        char value[SETTINGS_VALUE_MAX + 1];
        settings_format(s, (setting_id_t)i, false, value, sizeof(value));
        err = nvs_set_str(h, info->nvs_key, value);
        if (err != ESP_OK) {
            ESP_LOGE(TAG, "writing %s: %s", info->nvs_key, esp_err_to_name(err));
            if (first_err == ESP_OK) {
                first_err = err;
            }
        }
    }
    err = nvs_commit(h);
    nvs_close(h);
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "nvs_commit: %s", esp_err_to_name(err));
        return err;
    }
    return first_err;
}

esp_err_t storage_load_cacert(char *buf, size_t cap, size_t *len)
{
    *len = 0;
    if (cap == 0) {
        return ESP_ERR_INVALID_ARG;
    }
    buf[0] = '\0';
    nvs_handle_t h;
    esp_err_t err = nvs_open(NVS_NAMESPACE, NVS_READONLY, &h);
    if (err == ESP_ERR_NVS_NOT_FOUND) {
        return ESP_OK; /* nothing stored yet */
    }
    if (err != ESP_OK) {
        return err;
    }
    size_t size = 0;
    err = nvs_get_blob(h, NVS_KEY_CACERT, NULL, &size);
    if (err == ESP_ERR_NVS_NOT_FOUND) {
        nvs_close(h);
        return ESP_OK;
    }
    if (err == ESP_OK && size > cap - 1) {
        err = ESP_ERR_INVALID_SIZE;
    }
    if (err == ESP_OK) {
        err = nvs_get_blob(h, NVS_KEY_CACERT, buf, &size);
    }
    nvs_close(h);
    if (err != ESP_OK) {
        buf[0] = '\0';
        return err;
    }
    buf[size] = '\0';
    *len = size;
    return ESP_OK;
}

esp_err_t storage_save_cacert(const char *pem, size_t len)
{
    nvs_handle_t h;
    esp_err_t err = nvs_open(NVS_NAMESPACE, NVS_READWRITE, &h);
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "nvs_open: %s", esp_err_to_name(err));
        return err;
    }
    if (len > 0) {
        err = nvs_set_blob(h, NVS_KEY_CACERT, pem, len);
    } else {
        err = nvs_erase_key(h, NVS_KEY_CACERT);
        if (err == ESP_ERR_NVS_NOT_FOUND) {
            err = ESP_OK;
        }
    }
    if (err == ESP_OK) {
        err = nvs_commit(h);
    }
    nvs_close(h);
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "storing the CA certificate: %s", esp_err_to_name(err));
    }
    return err;
}

esp_err_t storage_erase(void)
{
    nvs_handle_t h;
    esp_err_t err = nvs_open(NVS_NAMESPACE, NVS_READWRITE, &h);
    if (err != ESP_OK) {
        return err;
    }
    err = nvs_erase_all(h);
    if (err == ESP_OK) {
        err = nvs_commit(h);
    }
    nvs_close(h);
    return err;
}
