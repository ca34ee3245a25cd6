#include "jpegbuf.h"

#include <stdlib.h>
#include <string.h>

static void *default_realloc(void *ptr, size_t size, void *ctx)
{
    (void)ctx;
    return realloc(ptr, size);
}

static void default_free(void *ptr, void *ctx)
{
    (void)ctx;
    free(ptr);
}

void jpegbuf_init(jpegbuf_t *b, size_t max, jpegbuf_realloc_fn realloc_fn, jpegbuf_free_fn free_fn, void *ctx)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
    b->realloc_fn = realloc_fn ? realloc_fn : default_realloc;
    b->free_fn = free_fn ? free_fn : default_free;
    b->ctx = ctx;
}

void jpegbuf_reset(jpegbuf_t *b)
{
    b->len = 0;
    b->overflow = false;
    b->alloc_failed = false;
    b->out_of_order = false;
}

bool jpegbuf_reserve(jpegbuf_t *b, size_t n)
{
    if (n <= b->cap) {
        return true;
    }
    if (n > b->max) {
        return false;
    }
    size_t cap = b->cap ? b->cap : 4096;
    if (cap > b->max) {
        cap = b->max;
    }
    while (cap < n) {
        cap = (cap > b->max / 2) ? b->max : cap * 2;
    }
    void *p = b->realloc_fn(b->data, cap, b->ctx);
    if (p == NULL) {
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

size_t jpegbuf_write_cb(void *arg, size_t index, const void *data, size_t len)
{
    jpegbuf_t *b = arg;
    if (b == NULL) {
        return 0;
    }
    if (len == 0) {
        return 0;  /* final flush (data == NULL) or empty write */
    }
    if (data == NULL || b->overflow || b->alloc_failed || b->out_of_order) {
        return 0;
    }
    if (index != b->len) {
        b->out_of_order = true;
        return 0;
    }
    if (len > b->max - b->len) {
        b->overflow = true;
        return 0;
    }
    if (!jpegbuf_reserve(b, b->len + len)) {
        b->alloc_failed = true;
        return 0;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return len;
}

bool jpegbuf_ok(const jpegbuf_t *b)
{
    if (b->overflow || b->alloc_failed || b->out_of_order || b->data == NULL) {
        return false;
    }
    return jpeg_complete_length(b->data, b->len) == b->len;
}

void jpegbuf_free(jpegbuf_t *b)
{
    if (b->data) {
        b->free_fn(b->data, b->ctx);
    }
    b->data = NULL;
    b->cap = 0;
    b->len = 0;
}

size_t jpeg_complete_length(const uint8_t *buf, size_t len)
{
    if (buf == NULL || len < 4 || buf[0] != 0xFF || buf[1] != 0xD8) {
        return 0;
    }
    for (size_t i = len - 1; i >= 3; i--) {
        if (buf[i] == 0xD9 && buf[i - 1] == 0xFF) {
            return i + 1;
        }
    }
    return 0;
}
