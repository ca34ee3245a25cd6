#include "control.h"

#include <stdio.h>
#include <string.h>

#include "framesize.h"

static void reject(control_result_t *res, const char *key, const char *reason)
{
    if (res->rejected_count >= JSON_MAX_MEMBERS) {
        return;
    }
    control_rejection_t *r = &res->rejected[res->rejected_count++];
    snprintf(r->key, sizeof(r->key), "%s", key);
    snprintf(r->reason, sizeof(r->reason), "%s", reason);
}

/* Turns a JSON value into the text settings_set expects, or explains the type error. */
static bool value_text(setting_id_t id, const json_member_t *m, char *out, size_t out_len, char *why, size_t why_len)
{
    switch (id) {
    case SETTING_FRAMESIZE:
        if (m->type != JSON_STRING) {
            snprintf(why, why_len, "must be a string such as \"VGA\"");
            return false;
        }
        if (m->str_truncated) {
            snprintf(why, why_len, "value too long");
            return false;
        }
        snprintf(out, out_len, "%s", m->str);
        return true;
    case SETTING_QUALITY:
    case SETTING_FPS: {
        const setting_info_t *info = settings_info(id);
        if (m->type != JSON_NUMBER || !m->is_integer) {
            snprintf(why, why_len, "must be %s", info->allowed);
            return false;
        }
        if (m->integer < -1000000 || m->integer > 1000000) {
            snprintf(why, why_len, "must be %s", info->allowed);
            return false;
        }
        snprintf(out, out_len, "%d", (int)m->integer);
        return true;
    }
    case SETTING_VFLIP:
    case SETTING_HMIRROR:
        if (m->type == JSON_TRUE || (m->type == JSON_NUMBER && m->is_integer && m->integer == 1)) {
            snprintf(out, out_len, "on");
            return true;
        }
        if (m->type == JSON_FALSE || (m->type == JSON_NUMBER && m->is_integer && m->integer == 0)) {
            snprintf(out, out_len, "off");
            return true;
        }
        snprintf(why, why_len, "must be true or false");
        return false;
    default:
        snprintf(why, why_len, "cannot be changed remotely");
        return false;
    }
}

control_kind_t control_handle(const char *msg, size_t len, board_sensor_t sensor, settings_t *s,
                              control_result_t *res)
{
    res->applied = 0;
    res->rejected_count = 0;
    res->type[0] = '\0';
    res->error[0] = '\0';
    if (msg == NULL || len == 0) {
        snprintf(res->error, sizeof(res->error), "empty message");
        return CONTROL_INVALID;
    }
    if (len > CONTROL_MSG_MAX) {
        snprintf(res->error, sizeof(res->error), "message longer than %d bytes", CONTROL_MSG_MAX);
        return CONTROL_INVALID;
    }
    if (!json_parse_object(msg, len, &res->obj, res->error, sizeof(res->error))) {
        return CONTROL_INVALID;
    }
    const json_member_t *type = json_find(&res->obj, "type");
    if (type == NULL || type->type != JSON_STRING) {
        snprintf(res->error, sizeof(res->error), "missing \"type\" string");
        return CONTROL_INVALID;
    }
    snprintf(res->type, sizeof(res->type), "%s", type->str);
    if (strcmp(type->str, "config") != 0) {
        return CONTROL_IGNORED;
    }
    for (int i = 0; i < res->obj.count; i++) {
        const json_member_t *m = &res->obj.members[i];
        if (m == type) {
            continue;
        }
        int id = m->key_truncated ? -1 : settings_find(m->key);
        if (id < 0) {
            reject(res, m->key, "unknown setting");
            continue;
        }
        if (!settings_info((setting_id_t)id)->remote) {
            reject(res, m->key, "cannot be changed remotely");
            continue;
        }
        char text[JSON_STR_MAX + 1];
        char why[CONTROL_REASON_MAX + 1];
        if (!value_text((setting_id_t)id, m, text, sizeof(text), why, sizeof(why))) {
            reject(res, m->key, why);
            continue;
        }
        settings_t trial = *s;
        if (!settings_set(&trial, (setting_id_t)id, text, NULL, 0)) {
            if (id == SETTING_FRAMESIZE) {
                reject(res, m->key, "unknown frame size (e.g. QVGA, VGA, SVGA, HD, UXGA)");
            } else {
                snprintf(why, sizeof(why), "must be %s", settings_info((setting_id_t)id)->allowed);
                reject(res, m->key, why);
            }
            continue;
        }
        if (id == SETTING_FRAMESIZE && !framesize_supported(sensor, trial.framesize)) {
            framesize_limit_message(sensor, why, sizeof(why));
            reject(res, m->key, why);
            continue;
        }
        *s = trial;
        res->applied |= SETTING_BIT(id);
    }
    return CONTROL_CONFIG;
}

bool control_format_ack(const control_result_t *res, const settings_t *s, char *out, size_t out_len)
{
    json_writer_t w;
    jw_init(&w, out, out_len);
    jw_object_begin(&w);
    jw_key(&w, "type");
    jw_string(&w, "config_ack");
    jw_key(&w, "applied");
    jw_object_begin(&w);
    for (int i = 0; i < SETTING_COUNT; i++) {
        if (!(res->applied & SETTING_BIT(i))) {
            continue;
        }
        jw_key(&w, settings_info((setting_id_t)i)->name);
        switch ((setting_id_t)i) {
        case SETTING_FRAMESIZE: jw_string(&w, framesize_name(s->framesize)); break;
        case SETTING_QUALITY: jw_int(&w, s->quality); break;
        case SETTING_FPS: jw_int(&w, s->fps); break;
        case SETTING_VFLIP: jw_bool(&w, s->vflip); break;
        case SETTING_HMIRROR: jw_bool(&w, s->hmirror); break;
        default: {
            char v[SETTINGS_VALUE_MAX + 1];
            settings_format(s, (setting_id_t)i, true, v, sizeof(v));
            jw_string(&w, v);
        }
        }
    }
    jw_object_end(&w);
    jw_key(&w, "rejected");
    jw_object_begin(&w);
    for (int i = 0; i < res->rejected_count; i++) {
        jw_key(&w, res->rejected[i].key);
        jw_string(&w, res->rejected[i].reason);
    }
    jw_object_end(&w);
    jw_object_end(&w);
    return jw_ok(&w);
}

static void min_max(json_writer_t *w, const char *key, int min, int max)
{
    jw_key(w, key);
    jw_object_begin(w);
    jw_key(w, "min");
    jw_int(w, min);
    jw_key(w, "max");
    jw_int(w, max);
    jw_object_end(w);
}

static void both_booleans(json_writer_t *w, const char *key)
{
    jw_key(w, key);
    jw_array_begin(w);
    jw_bool(w, false);
    jw_bool(w, true);
    jw_array_end(w);
}

bool control_format_hello(const control_hello_t *h, char *out, size_t out_len)
{
    const framesize_info_t *fi = framesize_info(h->framesize);
    if (fi == NULL) {
        if (out && out_len) {
            out[0] = '\0';
        }
        return false;
    }
    json_writer_t w;
    jw_init(&w, out, out_len);
    jw_object_begin(&w);
    jw_key(&w, "type");
    jw_string(&w, "hello");
    jw_key(&w, "camera_id");
    jw_string(&w, h->camera_id);
    jw_key(&w, "board");
    jw_string(&w, h->board);
    jw_key(&w, "sensor");
    jw_string(&w, h->sensor);
    jw_key(&w, "firmware");
    jw_string(&w, h->firmware);
    jw_key(&w, "width");
    jw_int(&w, fi->width);
    jw_key(&w, "height");
    jw_int(&w, fi->height);
    jw_key(&w, "fps");
    jw_int(&w, h->fps);
    jw_key(&w, "quality");
    jw_int(&w, h->quality);
    jw_key(&w, "framesize");
    jw_string(&w, fi->name);
    jw_key(&w, "vflip");
    jw_bool(&w, h->vflip);
    jw_key(&w, "hmirror");
    jw_bool(&w, h->hmirror);

    /* what a config message may ask for: the same limits control_handle applies */
    jw_key(&w, "choices");
    jw_object_begin(&w);
    jw_key(&w, "framesize");
    jw_array_begin(&w);
    for (int fs = 0; fs < FS_COUNT; fs++) {
        if (framesize_supported(h->sensor_kind, fs)) {
            jw_string(&w, framesize_name(fs));
        }
    }
    jw_array_end(&w);
    min_max(&w, "quality", SETTINGS_QUALITY_MIN, SETTINGS_QUALITY_MAX);
    min_max(&w, "fps", SETTINGS_FPS_MIN, SETTINGS_FPS_MAX);
    both_booleans(&w, "vflip");
    both_booleans(&w, "hmirror");
    jw_object_end(&w);

    jw_object_end(&w);
    return jw_ok(&w);
}
