/*
 * A small JSON reader for one flat object ({"key": value, ...}) and a JSON writer with
 * escaping, used for the server's control messages, the config_ack reply and the hello.
 * The same code runs on the device (no cJSON needed, so the json component's removal in
 * ESP-IDF 6 does not matter) and in the host tests. Portable: no ESP-IDF includes.
 *
 * Reader: strict RFC 8259 syntax. Member values may be strings, numbers, true, false, null,
 * or nested objects/arrays (validated and skipped: only their type is reported). Strings are
 * decoded (escapes, \uXXXX incl. surrogate pairs, to UTF-8); an escaped NUL is refused.
 */
#ifndef JSONLITE_H
#define JSONLITE_H

#include <stdbool.h>
#include <stddef.h>

#define JSON_KEY_MAX 32       /* longer keys are truncated and flagged */
#define JSON_STR_MAX 96       /* longer string values are truncated and flagged */
#define JSON_MAX_MEMBERS 16
#define JSON_MAX_DEPTH 8      /* nesting limit for skipped values */

typedef enum {
    JSON_STRING,
    JSON_NUMBER,
    JSON_TRUE,
    JSON_FALSE,
    JSON_NULL,
    JSON_OBJECT,
    JSON_ARRAY,
} json_type_t;

typedef struct {
    char key[JSON_KEY_MAX + 1];
    bool key_truncated;
    json_type_t type;
    char str[JSON_STR_MAX + 1];  /* STRING: decoded text; NUMBER: the literal */
    bool str_truncated;
    bool is_integer;             /* NUMBER without fraction/exponent that fits in long long */
    long long integer;
} json_member_t;

typedef struct {
    json_member_t members[JSON_MAX_MEMBERS];
    int count;
} json_object_t;

/* Parses text[0..len) as one object. On failure returns false and writes a reason to err. */
bool json_parse_object(const char *text, size_t len, json_object_t *out, char *err, size_t err_len);

/* First member with this key, or NULL. */
const json_member_t *json_find(const json_object_t *obj, const char *key);

/* Name of a type for messages: "string", "number", ... */
const char *json_type_name(json_type_t type);

/* ---- writer ---- */
typedef struct {
    char *buf;
    size_t cap;
    size_t len;
    bool overflow;
    int depth;
    bool need_comma[JSON_MAX_DEPTH + 1];
    bool is_array[JSON_MAX_DEPTH + 1];
    bool after_key;
} json_writer_t;

void jw_init(json_writer_t *w, char *buf, size_t cap);
void jw_object_begin(json_writer_t *w);   /* as a value (after jw_key) or at top level */
void jw_object_end(json_writer_t *w);
void jw_array_begin(json_writer_t *w);    /* likewise; values follow without keys */
void jw_array_end(json_writer_t *w);      /* closing the wrong kind of container is an error */
void jw_key(json_writer_t *w, const char *key);
void jw_string(json_writer_t *w, const char *s);
void jw_int(json_writer_t *w, long long v);
void jw_bool(json_writer_t *w, bool v);
/* True when everything fitted; buf is always NUL-terminated (cap > 0). */
bool jw_ok(const json_writer_t *w);

#endif /* JSONLITE_H */
