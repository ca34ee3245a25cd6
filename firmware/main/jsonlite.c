#include "jsonlite.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *p;
    const char *end;
    const char *err;
} reader_t;

static void set_err(char *err, size_t err_len, const char *msg)
{
    if (err && err_len) {
        snprintf(err, err_len, "%s", msg);
    }
}

static void skip_ws(reader_t *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) {
        r->p++;
    }
}

static bool fail(reader_t *r, const char *msg)
{
    if (r->err == NULL) {
        r->err = msg;
    }
    return false;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static bool read_hex4(reader_t *r, unsigned *out)
{
    if (r->end - r->p < 4) {
        return fail(r, "bad \\u escape");
    }
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(r->p[i]);
        if (h < 0) {
            return fail(r, "bad \\u escape");
        }
        v = (v << 4) | (unsigned)h;
    }
    r->p += 4;
    *out = v;
    return true;
}

/* Appends bytes to out (capacity cap incl. NUL) and flags truncation; out may be NULL. */
static void put_bytes(char *out, size_t cap, size_t *n, bool *trunc, const char *bytes, size_t k)
{
    if (out == NULL) {
        return;
    }
    if (*n + k + 1 > cap) {
        *trunc = true;
        return;
    }
    memcpy(out + *n, bytes, k);
    *n += k;
    out[*n] = '\0';
}

/* Reads a string starting at '"'. out may be NULL (skip). */
static bool read_string(reader_t *r, char *out, size_t cap, bool *trunc)
{
    size_t n = 0;
    bool dummy = false;
    if (trunc == NULL) {
        trunc = &dummy;
    }
    *trunc = false;
    if (out && cap) {
        out[0] = '\0';
    }
    if (r->p >= r->end || *r->p != '"') {
        return fail(r, "expected a string");
    }
    r->p++;
    while (r->p < r->end) {
        unsigned char c = (unsigned char)*r->p++;
        if (c == '"') {
            return true;
        }
        if (c < 0x20) {
            return fail(r, "control character in string");
        }
        if (c != '\\') {
            char ch = (char)c;
            put_bytes(out, cap, &n, trunc, &ch, 1);
            continue;
        }
        if (r->p >= r->end) {
            break;
        }
        char e = *r->p++;
        char ch;
        switch (e) {
        case '"': ch = '"'; break;
        case '\\': ch = '\\'; break;
        case '/': ch = '/'; break;
        case 'b': ch = '\b'; break;
        case 'f': ch = '\f'; break;
        case 'n': ch = '\n'; break;
        case 'r': ch = '\r'; break;
        case 't': ch = '\t'; break;
        case 'u': {
            unsigned cp;
            if (!read_hex4(r, &cp)) {
                return false;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (r->end - r->p < 2 || r->p[0] != '\\' || r->p[1] != 'u') {
                    return fail(r, "unpaired surrogate");
                }
                r->p += 2;
                if (!read_hex4(r, &lo)) {
                    return false;
                }
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    return fail(r, "unpaired surrogate");
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return fail(r, "unpaired surrogate");
            }
            if (cp == 0) {
                return fail(r, "NUL character in string");
            }
            char u[4];
            size_t k;
            if (cp < 0x80) {
                u[0] = (char)cp;
                k = 1;
            } else if (cp < 0x800) {
                u[0] = (char)(0xC0 | (cp >> 6));
                u[1] = (char)(0x80 | (cp & 0x3F));
                k = 2;
            } else if (cp < 0x10000) {
                u[0] = (char)(0xE0 | (cp >> 12));
                u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                u[2] = (char)(0x80 | (cp & 0x3F));
                k = 3;
            } else {
                u[0] = (char)(0xF0 | (cp >> 18));
                u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
                u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
                u[3] = (char)(0x80 | (cp & 0x3F));
                k = 4;
            }
            put_bytes(out, cap, &n, trunc, u, k);
            continue;
        }
        default:
            return fail(r, "bad escape in string");
        }
        put_bytes(out, cap, &n, trunc, &ch, 1);
    }
    return fail(r, "unterminated string");
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool read_number(reader_t *r, json_member_t *m)
{
    const char *start = r->p;
    bool integral = true;
    if (r->p < r->end && *r->p == '-') {
        r->p++;
    }
    if (r->p >= r->end || !is_digit(*r->p)) {
        return fail(r, "bad number");
    }
    if (*r->p == '0') {
        r->p++;
        if (r->p < r->end && is_digit(*r->p)) {
            return fail(r, "bad number (leading zero)");
        }
    } else {
        while (r->p < r->end && is_digit(*r->p)) {
            r->p++;
        }
    }
    if (r->p < r->end && *r->p == '.') {
        integral = false;
        r->p++;
        if (r->p >= r->end || !is_digit(*r->p)) {
            return fail(r, "bad number");
        }
        while (r->p < r->end && is_digit(*r->p)) {
            r->p++;
        }
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        integral = false;
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-')) {
            r->p++;
        }
        if (r->p >= r->end || !is_digit(*r->p)) {
            return fail(r, "bad number");
        }
        while (r->p < r->end && is_digit(*r->p)) {
            r->p++;
        }
    }
    if (m == NULL) {
        return true;
    }
    size_t n = (size_t)(r->p - start);
    m->str_truncated = n > JSON_STR_MAX;
    if (n > JSON_STR_MAX) {
        n = JSON_STR_MAX;
    }
    memcpy(m->str, start, n);
    m->str[n] = '\0';
    m->is_integer = false;
    m->integer = 0;
    if (integral) {
        const char *q = start;
        bool neg = *q == '-';
        if (neg) {
            q++;
        }
        size_t digits = (size_t)(r->p - q);
        if (digits <= 18) { /* always fits in long long */
            long long v = 0;
            for (; q < r->p; q++) {
                v = v * 10 + (*q - '0');
            }
            m->is_integer = true;
            m->integer = neg ? -v : v;
        }
    }
    return true;
}

static bool match_literal(reader_t *r, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n) != 0) {
        return fail(r, "invalid literal");
    }
    r->p += n;
    return true;
}

static bool skip_value(reader_t *r, int depth);

static bool skip_container(reader_t *r, int depth, char open, char close)
{
    if (depth > JSON_MAX_DEPTH) {
        return fail(r, "nesting too deep");
    }
    r->p++; /* open */
    (void)open;
    skip_ws(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        return true;
    }
    for (;;) {
        skip_ws(r);
        if (close == '}') {
            if (!read_string(r, NULL, 0, NULL)) {
                return false;
            }
            skip_ws(r);
            if (r->p >= r->end || *r->p != ':') {
                return fail(r, "expected ':'");
            }
            r->p++;
            skip_ws(r);
        }
        if (!skip_value(r, depth + 1)) {
            return false;
        }
        skip_ws(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == close) {
            r->p++;
            return true;
        }
        return fail(r, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static bool skip_value(reader_t *r, int depth)
{
    if (r->p >= r->end) {
        return fail(r, "expected a value");
    }
    switch (*r->p) {
    case '"':
        return read_string(r, NULL, 0, NULL);
    case '{':
        return skip_container(r, depth, '{', '}');
    case '[':
        return skip_container(r, depth, '[', ']');
    case 't':
        return match_literal(r, "true");
    case 'f':
        return match_literal(r, "false");
    case 'n':
        return match_literal(r, "null");
    default:
        return read_number(r, NULL);
    }
}

static bool read_member_value(reader_t *r, json_member_t *m)
{
    if (r->p >= r->end) {
        return fail(r, "expected a value");
    }
    m->str[0] = '\0';
    m->str_truncated = false;
    m->is_integer = false;
    m->integer = 0;
    switch (*r->p) {
    case '"':
        m->type = JSON_STRING;
        return read_string(r, m->str, sizeof(m->str), &m->str_truncated);
    case '{':
        m->type = JSON_OBJECT;
        return skip_container(r, 1, '{', '}');
    case '[':
        m->type = JSON_ARRAY;
        return skip_container(r, 1, '[', ']');
    case 't':
        m->type = JSON_TRUE;
        return match_literal(r, "true");
    case 'f':
        m->type = JSON_FALSE;
        return match_literal(r, "false");
    case 'n':
        m->type = JSON_NULL;
        return match_literal(r, "null");
    default:
        m->type = JSON_NUMBER;
        return read_number(r, m);
    }
}

bool json_parse_object(const char *text, size_t len, json_object_t *out, char *err, size_t err_len)
{
    reader_t r = {text, text + len, NULL};
    out->count = 0;
    set_err(err, err_len, "");
    if (text == NULL) {
        set_err(err, err_len, "no input");
        return false;
    }
    if (memchr(text, '\0', len) != NULL) {
        set_err(err, err_len, "NUL byte in input");
        return false;
    }
    skip_ws(&r);
    if (r.p >= r.end || *r.p != '{') {
        set_err(err, err_len, "not a JSON object");
        return false;
    }
    r.p++;
    skip_ws(&r);
    bool ok = true;
    if (r.p < r.end && *r.p == '}') {
        r.p++;
    } else {
        for (;;) {
            skip_ws(&r);
            if (out->count >= JSON_MAX_MEMBERS) {
                ok = fail(&r, "too many members");
                break;
            }
            json_member_t *m = &out->members[out->count];
            if (!read_string(&r, m->key, sizeof(m->key), &m->key_truncated)) {
                ok = false;
                break;
            }
            skip_ws(&r);
            if (r.p >= r.end || *r.p != ':') {
                ok = fail(&r, "expected ':'");
                break;
            }
            r.p++;
            skip_ws(&r);
            if (!read_member_value(&r, m)) {
                ok = false;
                break;
            }
            out->count++;
            skip_ws(&r);
            if (r.p < r.end && *r.p == ',') {
                r.p++;
                continue;
            }
            if (r.p < r.end && *r.p == '}') {
                r.p++;
                break;
            }
            ok = fail(&r, "expected ',' or '}'");
            break;
        }
    }
    if (ok) {
        skip_ws(&r);
        if (r.p != r.end) {
            ok = fail(&r, "trailing characters after the object");
        }
    }
    if (!ok) {
        out->count = 0;
        set_err(err, err_len, r.err ? r.err : "invalid JSON");
    }
    return ok;
}

const json_member_t *json_find(const json_object_t *obj, const char *key)
{
    for (int i = 0; i < obj->count; i++) {
        if (!obj->members[i].key_truncated && strcmp(obj->members[i].key, key) == 0) {
            return &obj->members[i];
        }
    }
    return NULL;
}

const char *json_type_name(json_type_t type)
{
    switch (type) {
    case JSON_STRING: return "string";
    case JSON_NUMBER: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    }
    return "?";
}

/* ---------------------------------------------------------------- writer */

static void w_raw(json_writer_t *w, const char *s, size_t n)
{
    if (w->overflow) {
        return;
    }
    if (w->len + n + 1 > w->cap) {
        w->overflow = true;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

static void w_str(json_writer_t *w, const char *s)
{
    w_raw(w, s, strlen(s));
}

void jw_init(json_writer_t *w, char *buf, size_t cap)
{
    memset(w, 0, sizeof(*w));
    w->buf = buf;
    w->cap = cap;
    if (buf && cap) {
        buf[0] = '\0';
    } else {
        w->overflow = true;
    }
}

/* Comma handling for a value that is not preceded by a key (top level and in arrays). */
static void value_prefix(json_writer_t *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->need_comma[w->depth]) {
        w_raw(w, ",", 1);
    }
    w->need_comma[w->depth] = true;
}

static void container_begin(json_writer_t *w, bool array)
{
    value_prefix(w);
    if (w->depth >= JSON_MAX_DEPTH) {
        w->overflow = true;
        return;
    }
    w_raw(w, array ? "[" : "{", 1);
    w->depth++;
    w->need_comma[w->depth] = false;
    w->is_array[w->depth] = array;
}

static void container_end(json_writer_t *w, bool array)
{
    if (w->depth <= 0 || w->is_array[w->depth] != array) {
        w->overflow = true;
        return;
    }
    w->depth--;
    w_raw(w, array ? "]" : "}", 1);
}

void jw_object_begin(json_writer_t *w)
{
    container_begin(w, false);
}

void jw_object_end(json_writer_t *w)
{
    container_end(w, false);
}

void jw_array_begin(json_writer_t *w)
{
    container_begin(w, true);
}

void jw_array_end(json_writer_t *w)
{
    container_end(w, true);
}

static void escaped(json_writer_t *w, const char *s)
{
    w_raw(w, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char tmp[8];
        switch (*p) {
        case '"': w_str(w, "\\\""); break;
        case '\\': w_str(w, "\\\\"); break;
        case '\n': w_str(w, "\\n"); break;
        case '\r': w_str(w, "\\r"); break;
        case '\t': w_str(w, "\\t"); break;
        default:
            if (*p < 0x20 || *p == 0x7F) {
                snprintf(tmp, sizeof(tmp), "\\u%04x", *p);
                w_str(w, tmp);
            } else {
                w_raw(w, (const char *)p, 1);
            }
        }
    }
    w_raw(w, "\"", 1);
}

void jw_key(json_writer_t *w, const char *key)
{
    if (w->need_comma[w->depth]) {
        w_raw(w, ",", 1);
    }
    w->need_comma[w->depth] = true;
    escaped(w, key);
    w_raw(w, ":", 1);
    w->after_key = true;
}

void jw_string(json_writer_t *w, const char *s)
{
    value_prefix(w);
    escaped(w, s ? s : "");
}

void jw_int(json_writer_t *w, long long v)
{
    /* formatted by hand: no dependence on the libc's long long printf support */
    char tmp[24];
    size_t i = sizeof(tmp);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    tmp[--i] = '\0';
    do {
        tmp[--i] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    if (v < 0) {
        tmp[--i] = '-';
    }
    value_prefix(w);
    w_str(w, tmp + i);
}

void jw_bool(json_writer_t *w, bool v)
{
    value_prefix(w);
    w_str(w, v ? "true" : "false");
}

bool jw_ok(const json_writer_t *w)
{
    return !w->overflow && w->depth == 0;
}
