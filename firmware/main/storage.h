/*
 * Settings in NVS: one string per setting (settings_info()->nvs_key) in namespace "camstream",
 * and the CA certificate set for wss:// (console `cacert`) as one blob, "cacert", of at most
 * PEM_MAX_LEN bytes (validated by pem.c before it is stored and after it is read).
 */
#ifndef STORAGE_H
#define STORAGE_H

#include <stddef.h>

#include "esp_err.h"
#include "settings.h"

/* nvs_flash_init, erasing and retrying when the partition is full or from a newer format. */
esp_err_t storage_init(void);

/* Overlays every stored, valid value onto *s (invalid stored values are logged and skipped). */
esp_err_t storage_load(settings_t *s);

/* Writes the settings in mask (SETTING_BIT()s) and commits. */
esp_err_t storage_save(const settings_t *s, unsigned mask);

/* Reads the CA set into buf (cap >= PEM_MAX_LEN + 1) and NUL-terminates it. *len = 0 when none
 * is stored; a stored blob larger than cap - 1 is an error (ESP_ERR_INVALID_SIZE). */
esp_err_t storage_load_cacert(char *buf, size_t cap, size_t *len);

/* Stores the CA set (len > 0, without a NUL) or erases it (len == 0), and commits. */
esp_err_t storage_save_cacert(const char *pem, size_t len);

/* Erases every stored setting and the CA set (back to the compile-time defaults after a restart). */
esp_err_t storage_erase(void);

#endif /* STORAGE_H */
