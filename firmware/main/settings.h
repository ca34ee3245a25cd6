/*
 * Every user setting: defaults, validation, parsing and formatting, one key at a time.
 * storage.c keeps each setting in NVS as a string under its nvs_key; the console and the
 * server's control messages go through settings_set so the same rules apply everywhere.
 * Portable: no ESP-IDF includes.
 */
#ifndef SETTINGS_H
#define SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "url.h"

#define SETTINGS_SSID_MAX 32          /* bytes, as in wifi_sta_config_t.ssid */
#define SETTINGS_PASSWORD_MAX 64      /* 8-63 characters, or 64 hex digits */
#define SETTINGS_TOKEN_MAX 128
#define SETTINGS_FPS_MIN 1
#define SETTINGS_FPS_MAX 30
#define SETTINGS_QUALITY_MIN 1
#define SETTINGS_QUALITY_MAX 100
#define SETTINGS_VALUE_MAX 200        /* longest formatted value (the URL) */

typedef enum {
    SETTING_SSID,
    SETTING_PASSWORD,
    SETTING_SERVER,
    SETTING_CAMERA_ID,
    SETTING_TOKEN,
    SETTING_FRAMESIZE,
    SETTING_QUALITY,
    SETTING_FPS,
    SETTING_VFLIP,
    SETTING_HMIRROR,
    SETTING_COUNT
} setting_id_t;

/* Bit for a setting in change masks. */
#define SETTING_BIT(id) (1u << (unsigned)(id))
#define SETTINGS_WIFI_BITS (SETTING_BIT(SETTING_SSID) | SETTING_BIT(SETTING_PASSWORD))
#define SETTINGS_SERVER_BITS (SETTING_BIT(SETTING_SERVER) | SETTING_BIT(SETTING_CAMERA_ID) | SETTING_BIT(SETTING_TOKEN))
#define SETTINGS_CAMERA_BITS (SETTING_BIT(SETTING_FRAMESIZE) | SETTING_BIT(SETTING_QUALITY) | \
                              SETTING_BIT(SETTING_FPS) | SETTING_BIT(SETTING_VFLIP) | SETTING_BIT(SETTING_HMIRROR))

typedef struct {
    char ssid[SETTINGS_SSID_MAX + 1];
    char password[SETTINGS_PASSWORD_MAX + 1];
    char server[URL_MAX_LEN + 1];            /* "" = not configured */
    char camera_id[CAMERA_ID_MAX_LEN + 1];   /* "" = automatic (atoms3r-xxxxxx) */
    char token[SETTINGS_TOKEN_MAX + 1];      /* "" = none */
    int framesize;                           /* FS_* index */
    int quality;                             /* 1..100, higher = better */
    int fps;                                 /* 1..30 */
    bool vflip;
    bool hmirror;
} settings_t;

typedef struct {
    const char *name;      /* key in messages and in `config` output */
    const char *nvs_key;   /* <= 15 characters */
    bool secret;           /* masked by `config` */
    bool remote;           /* the server may change it with a config message */
    const char *allowed;   /* human description of valid values */
} setting_info_t;

/* NULL when id is out of range. */
const setting_info_t *settings_info(setting_id_t id);

/* Id for a name ("fps"), or -1. */
int settings_find(const char *name);

/* Built-in defaults: empty Wi-Fi/server/camera/token, VGA, quality 80, 10 fps, vflip on
 * (as M5Stack's demo and Home Assistant config do), hmirror off. */
void settings_defaults(settings_t *s);

/*
 * Parses and validates value for one setting and stores it in s. On failure s is unchanged
 * and err says what is allowed. Values are not trimmed: spaces count. SETTING_SERVER stores
 * the normalized URL, path prefix included (this is how stored values are read back).
 */
bool settings_set(settings_t *s, setting_id_t id, const char *value, char *err, size_t err_len);

/* The server URL as a user types it (console, menuconfig): a path's last segment is the camera
 * id, e.g. "ws://host:8765/kitchen" sets server ws://host:8765 and camera id kitchen. */
bool settings_set_server_input(settings_t *s, const char *input, char *err, size_t err_len);

/* Canonical text of a setting (as stored in NVS). With mask, secrets show as "********"
 * (or "(not set)" when empty). */
void settings_format(const settings_t *s, setting_id_t id, bool mask, char *out, size_t out_len);

/* Bit mask of settings whose canonical text differs between a and b. */
unsigned settings_diff(const settings_t *a, const settings_t *b);

/* Individual rules, shared with the console for early messages. */
bool settings_parse_int(const char *text, int min, int max, int *out);
bool settings_parse_bool(const char *text, bool *out);
bool settings_ssid_valid(const char *ssid);
bool settings_password_valid(const char *password);
bool settings_token_valid(const char *token);

#endif /* SETTINGS_H */
