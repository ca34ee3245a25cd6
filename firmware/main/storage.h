/* Settings in NVS: one string per setting (settings_info()->nvs_key) in namespace "camstream". */
#ifndef STORAGE_H
#define STORAGE_H

#include "esp_err.h"
#include "settings.h"

/* nvs_flash_init, erasing and retrying when the partition is full or from a newer format. */
esp_err_t storage_init(void);

/* Overlays every stored, valid value onto *s (invalid stored values are logged and skipped). */
esp_err_t storage_load(settings_t *s);

/* Writes the settings in mask (SETTING_BIT()s) and commits. */
esp_err_t storage_save(const settings_t *s, unsigned mask);

/* Erases every stored setting (back to the compile-time defaults after a restart). */
esp_err_t storage_erase(void);

#endif /* STORAGE_H */
