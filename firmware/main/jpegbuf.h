/*
 * A growable output buffer for esp32-camera's software JPEG encoder callbacks
 * (frame2jpg_cb / fmt2jpg_cb take a jpg_out_cb: size_t (*)(void *arg, size_t index,
 * const void *data, size_t len)). Plain frame2jpg writes into a fixed 128 KB buffer and
 * silently truncates larger output while still returning true; this buffer grows instead,
 * up to a hard limit, and records any overflow so the caller can drop the frame.
 *
 * The encoder ignores the callback's return value for error purposes (its stream always
 * reports success), so the caller MUST check jpegbuf_ok() after encoding.
 * Portable: no ESP-IDF includes; the allocator is injected (PSRAM on the device).
 */
#ifndef JPEGBUF_H
#define JPEGBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* realloc-like: returns the new block or NULL (leaving ptr valid). size 0 is never requested. */
typedef void *(*jpegbuf_realloc_fn)(void *ptr, size_t size, void *ctx);
typedef void (*jpegbuf_free_fn)(void *ptr, void *ctx);

typedef struct {
    uint8_t *data;
    size_t len;            /* bytes written for the current frame */
    size_t cap;            /* allocated bytes */
    size_t max;            /* never grow beyond this */
    bool overflow;         /* output exceeded max: frame unusable */
    bool alloc_failed;     /* growing failed: frame unusable */
    bool out_of_order;     /* index did not match len: frame unusable */
    jpegbuf_realloc_fn realloc_fn;
    jpegbuf_free_fn free_fn;
    void *ctx;
} jpegbuf_t;

/* Uses the C library's realloc/free when the functions are NULL. No allocation yet. */
void jpegbuf_init(jpegbuf_t *b, size_t max, jpegbuf_realloc_fn realloc_fn, jpegbuf_free_fn free_fn, void *ctx);

/* Start a new frame: keep the memory, forget the contents and the error flags. */
void jpegbuf_reset(jpegbuf_t *b);

/* Make sure at least n bytes are allocated (n <= max). */
bool jpegbuf_reserve(jpegbuf_t *b, size_t n);

/* The jpg_out_cb: appends data at index; returns the bytes accepted (len on success, 0 on
 * error). data == NULL with len == 0 (the encoder's final flush) is accepted and ignored. */
size_t jpegbuf_write_cb(void *arg, size_t index, const void *data, size_t len);

/* True when the frame was written completely and looks like one JPEG (SOI ... EOI). */
bool jpegbuf_ok(const jpegbuf_t *b);

/* Free the memory (the struct can be reused after jpegbuf_init). */
void jpegbuf_free(jpegbuf_t *b);

/*
 * Length of the complete JPEG in buf: the data must start with SOI (FF D8); the result runs up
 * to and including the last EOI (FF D9), so trailing padding is cut off. 0 when there is no
 * SOI or no EOI.
 */
size_t jpeg_complete_length(const uint8_t *buf, size_t len);

#endif /* JPEGBUF_H */
