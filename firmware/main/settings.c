#include "settings.h"

#include <stdio.h>
#include <string.h>

#include "framesize.h"

static const setting_info_t s_info[SETTING_COUNT] = {
    [SETTING_SSID] = {"ssid", "wifi_ssid", false, false, "1-32 bytes"},
    [SETTING_PASSWORD] = {"password", "wifi_pass", true, false,
                          "empty (open network), 8-63 printable ASCII characters, or 64 hex digits"},
    [SETTING_SERVER] = {"server", "server_url", false, false,
                        "ws://HOST[:PORT][/CAMERA_ID] or wss://... (TLS), e.g. ws://192.168.1.20:8765"},
    [SETTING_CAMERA_ID] = {"camera_id", "camera_id", false, false,
                           "1-64 characters from A-Z a-z 0-9 _ -, or empty for automatic"},
    [SETTING_TOKEN] = {"token", "token", true, false,
                       "empty (none) or up to 128 printable ASCII characters without spaces"},
    [SETTING_FRAMESIZE] = {"framesize", "framesize", false, true,
                           "a frame size name such as QVGA, VGA, SVGA, HD, UXGA (see 'framesize' help)"},
    [SETTING_QUALITY] = {"quality", "quality", false, true, "an integer 1-100 (higher is better)"},
    [SETTING_FPS] = {"fps", "fps", false, true, "an integer 1-30"},
    [SETTING_VFLIP] = {"vflip", "vflip", false, true, "on/off (also true/false, 1/0, yes/no)"},
    [SETTING_HMIRROR] = {"hmirror", "hmirror", false, true, "on/off (also true/false, 1/0, yes/no)"},
};

static void set_err(char *err, size_t err_len, const char *fmt, const char *a, const char *b)
{
    if (err && err_len) {
        snprintf(err, err_len, fmt, a, b);
    }
}

const setting_info_t *settings_info(setting_id_t id)
{
    if ((int)id < 0 || id >= SETTING_COUNT) {
        return NULL;
    }
    return &s_info[id];
}

int settings_find(const char *name)
{
    if (name == NULL) {
        return -1;
    }
    for (int i = 0; i < SETTING_COUNT; i++) {
        if (strcmp(name, s_info[i].name) == 0) {
            return i;
        }
    }
    return -1;
}

void settings_defaults(settings_t *s)
{
    memset(s, 0, sizeof(*s));
    s->framesize = FS_VGA;
    s->quality = 80;
    s->fps = 10;
    s->vflip = true;
    s->hmirror = false;
}

bool settings_parse_int(const char *text, int min, int max, int *out)
{
    if (text == NULL || *text == '\0') {
        return false;
    }
    long v = 0;
    const char *p = text;
    bool neg = false;
    if (*p == '-' || *p == '+') {
        neg = *p == '-';
        p++;
    }
    if (*p == '\0') {
        return false;
    }
    for (; *p; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
        v = v * 10 + (*p - '0');
        if (v > 1000000) {
            return false; /* far outside every range here; avoids overflow */
        }
    }
    if (neg) {
        v = -v;
    }
    if (v < min || v > max) {
        return false;
    }
    *out = (int)v;
    return true;
}

static bool eq_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a, y = *b;
        if (x >= 'A' && x <= 'Z') {
            x = (char)(x - 'A' + 'a');
        }
        if (y >= 'A' && y <= 'Z') {
            y = (char)(y - 'A' + 'a');
        }
        if (x != y) {
            return false;
        }
    }
    return *a == '\0' && *b == '\0';
}

bool settings_parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"1", "on", "true", "yes", "y"};
    static const char *const no[] = {"0", "off", "false", "no", "n"};
    if (text == NULL) {
        return false;
    }
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (eq_nocase(text, yes[i])) {
            *out = true;
            return true;
        }
        if (eq_nocase(text, no[i])) {
            *out = false;
            return true;
        }
    }
    return false;
}

bool settings_ssid_valid(const char *ssid)
{
    if (ssid == NULL) {
        return false;
    }
    size_t n = strlen(ssid);
    return n >= 1 && n <= SETTINGS_SSID_MAX;
}

static bool printable_ascii(const char *s, bool allow_space)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c > 0x7E || (!allow_space && c == ' ')) {
            return false;
        }
    }
    return true;
}

bool settings_password_valid(const char *password)
{
    if (password == NULL) {
        return false;
    }
    size_t n = strlen(password);
    if (n == 0) {
        return true; /* open network */
    }
    if (n == 64) {
        for (const char *p = password; *p; p++) {
            char c = *p;
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
                return false;
            }
        }
        return true; /* raw PSK */
    }
    return n >= 8 && n <= 63 && printable_ascii(password, true);
}

bool settings_token_valid(const char *token)
{
    /* goes into an HTTP header: no spaces, CR, LF or other control characters */
    return token != NULL && strlen(token) <= SETTINGS_TOKEN_MAX && printable_ascii(token, false);
}

bool settings_set(settings_t *s, setting_id_t id, const char *value, char *err, size_t err_len)
{
    const setting_info_t *info = settings_info(id);
    if (info == NULL) {
        set_err(err, err_len, "unknown setting%s%s", "", "");
        return false;
    }
    if (value == NULL) {
        set_err(err, err_len, "%s: missing value; allowed: %s", info->name, info->allowed);
        return false;
    }
    if (err && err_len) {
        err[0] = '\0';
    }
    switch (id) {
    case SETTING_SSID:
        if (!settings_ssid_valid(value)) {
            set_err(err, err_len, "%s: must be %s", info->name, info->allowed);
            return false;
        }
        snprintf(s->ssid, sizeof(s->ssid), "%s", value);
        return true;
    case SETTING_PASSWORD:
        if (!settings_password_valid(value)) {
            set_err(err, err_len, "%s: must be %s", info->name, info->allowed);
            return false;
        }
        snprintf(s->password, sizeof(s->password), "%s", value);
        return true;
    case SETTING_SERVER: {
        if (*value == '\0') {
            s->server[0] = '\0'; /* unconfigure */
            return true;
        }
        char base[URL_MAX_LEN + 1];
        char why[128];
        if (!url_normalize(value, base, sizeof(base), why, sizeof(why))) {
            set_err(err, err_len, "server: %s (expected %s)", why, info->allowed);
            return false;
        }
        snprintf(s->server, sizeof(s->server), "%s", base);
        return true;
    }
    case SETTING_CAMERA_ID:
        if (*value != '\0' && !url_camera_id_valid(value)) {
            set_err(err, err_len, "%s: must be %s", info->name, info->allowed);
            return false;
        }
        snprintf(s->camera_id, sizeof(s->camera_id), "%s", value);
        return true;
    case SETTING_TOKEN:
        if (!settings_token_valid(value)) {
            set_err(err, err_len, "%s: must be %s", info->name, info->allowed);
            return false;
        }
        snprintf(s->token, sizeof(s->token), "%s", value);
        return true;
    case SETTING_FRAMESIZE: {
        int fs = framesize_parse(value);
        if (fs < 0) {
            char names[256];
            framesize_list(names, sizeof(names));
            set_err(err, err_len, "framesize: unknown size; allowed: %s%s", names, "");
            return false;
        }
        s->framesize = fs;
        return true;
    }
    case SETTING_QUALITY:
        if (!settings_parse_int(value, SETTINGS_QUALITY_MIN, SETTINGS_QUALITY_MAX, &s->quality)) {
            set_err(err, err_len, "%s: must be %s", info->name, info->allowed);
            return false;
        }
        return true;
    case SETTING_FPS:
        if (!settings_parse_int(value, SETTINGS_FPS_MIN, SETTINGS_FPS_MAX, &s->fps)) {
            set_err(err, err_len, "%s: must be %s", info->name, info->allowed);
            return false;
        }
        return true;
    case SETTING_VFLIP:
        if (!settings_parse_bool(value, &s->vflip)) {
            set_err(err, err_len, "%s: must be %s", info->name, info->allowed);
            return false;
        }
        return true;
    case SETTING_HMIRROR:
        if (!settings_parse_bool(value, &s->hmirror)) {
            set_err(err, err_len, "%s: must be %s", info->name, info->allowed);
            return false;
        }
        return true;
    case SETTING_COUNT:
        break;
    }
    set_err(err, err_len, "unknown setting%s%s", "", "");
    return false;
}

void settings_format(const settings_t *s, setting_id_t id, bool mask, char *out, size_t out_len)
{
    if (out == NULL || out_len == 0) {
        return;
    }
    const setting_info_t *info = settings_info(id);
    const char *text = NULL;
    char num[16];
    switch (id) {
    case SETTING_SSID: text = s->ssid; break;
    case SETTING_PASSWORD: text = s->password; break;
    case SETTING_SERVER: text = s->server; break;
    case SETTING_CAMERA_ID: text = s->camera_id; break;
    case SETTING_TOKEN: text = s->token; break;
    case SETTING_FRAMESIZE: text = framesize_name(s->framesize); break;
    case SETTING_QUALITY:
        snprintf(num, sizeof(num), "%d", s->quality);
        text = num;
        break;
    case SETTING_FPS:
        snprintf(num, sizeof(num), "%d", s->fps);
        text = num;
        break;
    case SETTING_VFLIP: text = s->vflip ? "on" : "off"; break;
    case SETTING_HMIRROR: text = s->hmirror ? "on" : "off"; break;
    case SETTING_COUNT: break;
    }
    if (text == NULL || info == NULL) {
        out[0] = '\0';
        return;
    }
    if (mask && info->secret) {
        text = text[0] ? "********" : "(not set)";
    }
    snprintf(out, out_len, "%s", text);
}

bool settings_set_server_input(settings_t *s, const char *input, char *err, size_t err_len)
{
    const setting_info_t *info = settings_info(SETTING_SERVER);
    if (input == NULL) {
        set_err(err, err_len, "server: missing value; allowed: %s%s", info->allowed, "");
        return false;
    }
    if (*input == '\0') {
        s->server[0] = '\0';
        return true;
    }
    char base[URL_MAX_LEN + 1];
    char id[CAMERA_ID_MAX_LEN + 1];
    char why[128];
    if (!url_split_server(input, base, sizeof(base), id, sizeof(id), why, sizeof(why))) {
        set_err(err, err_len, "server: %s (expected %s)", why, info->allowed);
        return false;
    }
    snprintf(s->server, sizeof(s->server), "%s", base);
    if (id[0]) {
        snprintf(s->camera_id, sizeof(s->camera_id), "%s", id);
    }
    return true;
}

unsigned settings_diff(const settings_t *a, const settings_t *b)
{
    unsigned mask = 0;
    char x[SETTINGS_VALUE_MAX + 1], y[SETTINGS_VALUE_MAX + 1];
    for (int i = 0; i < SETTING_COUNT; i++) {
        settings_format(a, (setting_id_t)i, false, x, sizeof(x));
        settings_format(b, (setting_id_t)i, false, y, sizeof(y));
        if (strcmp(x, y) != 0) {
            mask |= SETTING_BIT(i);
        }
    }
    return mask;
}
