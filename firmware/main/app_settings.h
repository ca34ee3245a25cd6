/*
 * The one shared copy of the settings, guarded by a mutex: the console task, the WebSocket
 * control path and the streaming task all go through here. Changes are validated by
 * settings.c, saved to NVS, and flagged as "dirty" for the tasks that must react.
 * Precedence at boot: built-in defaults < Kconfig (menuconfig) defaults < NVS.
 */
#ifndef APP_SETTINGS_H
#define APP_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "settings.h"

void app_settings_init(void);

/* A consistent copy. */
void app_settings_get(settings_t *out);

/* Validates and applies one value; saves it and marks it dirty. */
bool app_settings_set(setting_id_t id, const char *value, char *err, size_t err_len);

/* Copies the settings in mask (SETTING_BIT()s) from src, which must hold valid values;
 * everything else stays as it is. Saves and marks what changed; returns that mask. */
unsigned app_settings_update(const settings_t *src, unsigned mask);

/* Dirty bit (beside the SETTING_BIT()s) for the CA certificate set of wss:// connections. */
#define APP_SETTINGS_CACERT_BIT SETTING_BIT(SETTING_COUNT)

/* Stores (len > 0) or erases (len == 0) the CA set, already validated by the caller, and marks
 * APP_SETTINGS_CACERT_BIT so the stream reconnects with it. */
bool app_settings_set_cacert(const char *pem, size_t len);

/* Returns the dirty bits within mask and clears them. */
unsigned app_settings_take_dirty(unsigned mask);

/* The configured camera id, or atoms3r-xxxxxx from the MAC address when none is set. */
void app_settings_camera_id(const settings_t *s, char *out, size_t out_len);

/* The device's automatic id, atoms3r-xxxxxx (also used as the DHCP host name). */
void app_settings_default_id(char *out, size_t out_len);

#endif /* APP_SETTINGS_H */
