/*
 * Messages exchanged with the server, apart from the JPEG frames. Portable: no ESP-IDF includes.
 *
 * From the server (text), any subset of keys:
 *   {"type":"config","framesize":"VGA","quality":80,"fps":15,"vflip":true,"hmirror":false}
 * Each key is validated on its own; accepted ones are applied, refused ones get a reason:
 *   {"type":"config_ack","applied":{"quality":80},"rejected":{"fps":"must be an integer 1-30"}}
 * Other types are ignored (and logged by the caller).
 *
 * To the server, right after connecting, after every config_ack whose "applied" is not empty, and
 * whenever the settings change otherwise (console, frame size fallback); optional
 * (CONFIG_CAMSTREAM_SEND_HELLO): the current settings and the choices the camera accepts.
 *   {"type":"hello","camera_id":"desk","board":"AtomS3R-M12","sensor":"OV3660","firmware":"1.1.0",
 *    "width":640,"height":480,"fps":15,"quality":80,"framesize":"VGA","vflip":false,"hmirror":false,
 *    "choices":{"framesize":["96X96","QQVGA",...,"QXGA"],"quality":{"min":1,"max":100},
 *               "fps":{"min":1,"max":30},"vflip":[false,true],"hmirror":[false,true]}}
 * choices.framesize lists the sizes this sensor supports, smallest index first (GC0308: up to VGA).
 * The server relies on these key names.
 */
#ifndef CONTROL_H
#define CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include "board.h"
#include "jsonlite.h"
#include "settings.h"

#define CONTROL_REASON_MAX 80
#define CONTROL_MSG_MAX 1024   /* longer control messages are refused */

typedef enum {
    CONTROL_CONFIG,    /* a config message: see the result */
    CONTROL_IGNORED,   /* valid JSON object of another type */
    CONTROL_INVALID,   /* not JSON, not an object, or no "type" */
} control_kind_t;

typedef struct {
    char key[JSON_KEY_MAX + 1];
    char reason[CONTROL_REASON_MAX + 1];
} control_rejection_t;

typedef struct {
    unsigned applied;                 /* SETTING_BIT() of every accepted key */
    int rejected_count;
    control_rejection_t rejected[JSON_MAX_MEMBERS];
    char type[JSON_STR_MAX + 1];      /* the message's type, for logging */
    char error[64];                   /* why a message is CONTROL_INVALID */
    json_object_t obj;                /* scratch space (large: keep the result off small stacks) */
} control_result_t;

/*
 * Parses a control message and applies every valid key to *s (framesize also has to fit the
 * sensor). Keys that are not remote settings, and bad values, are listed in res->rejected.
 */
control_kind_t control_handle(const char *msg, size_t len, board_sensor_t sensor, settings_t *s,
                              control_result_t *res);

/* Writes the config_ack for res, with the applied values taken from s. False if it does not fit. */
bool control_format_ack(const control_result_t *res, const settings_t *s, char *out, size_t out_len);

typedef struct {
    const char *camera_id;
    const char *board;
    const char *sensor;
    const char *firmware;
    board_sensor_t sensor_kind;   /* decides the frame sizes offered */
    int framesize;                /* FS_* in use: gives width, height and "framesize" */
    int fps;
    int quality;
    bool vflip;
    bool hmirror;
} control_hello_t;

/* The longest hello: every frame size, 64-character camera id (ids need no escaping). */
#define CONTROL_HELLO_MAX 768

/* False when it does not fit or framesize is not a valid FS_* index. */
bool control_format_hello(const control_hello_t *h, char *out, size_t out_len);

#endif /* CONTROL_H */
