#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "jpegbuf.h"

static int g_fail_after = -1;  /* make the n-th realloc fail */
static int g_reallocs;
static int g_frees;

static void *test_realloc(void *ptr, size_t size, void *ctx)
{
    CHECK(ctx == (void *)&g_reallocs);
    CHECK(size > 0);
    if (g_fail_after >= 0 && g_reallocs >= g_fail_after) {
        return NULL;
    }
    g_reallocs++;
    return realloc(ptr, size);
}

static void test_free(void *ptr, void *ctx)
{
    (void)ctx;
    g_frees++;
    free(ptr);
}

/* Feeds a fake JPEG of total bytes in chunks, as the encoder's callback stream does. */
static void feed(jpegbuf_t *b, size_t total, size_t chunk)
{
    uint8_t *img = malloc(total);
    memset(img, 0x55, total);
    img[0] = 0xFF;
    img[1] = 0xD8;
    img[total - 2] = 0xFF;
    img[total - 1] = 0xD9;
    size_t index = 0;
    while (index < total) {
        size_t n = total - index < chunk ? total - index : chunk;
        index += jpegbuf_write_cb(b, index, img + index, n);
        if (b->overflow || b->alloc_failed) {
            break;
        }
    }
    jpegbuf_write_cb(b, index, NULL, 0); /* final flush */
    free(img);
}

int main(void)
{
    jpegbuf_t b;
    jpegbuf_init(&b, 2 * 1024 * 1024, test_realloc, test_free, &g_reallocs);
    CHECK(b.data == NULL);
    CHECK(!jpegbuf_ok(&b));

    /* larger than frame2jpg's fixed 128 KB: must grow, not truncate */
    feed(&b, 300000, 2048);
    CHECK_INT(b.len, 300000);
    CHECK(jpegbuf_ok(&b));
    CHECK(b.cap >= 300000);
    CHECK(b.cap <= 2 * 1024 * 1024);
    int reallocs = g_reallocs;
    CHECK(reallocs > 0 && reallocs < 12); /* doubling, not per chunk */

    /* next frame reuses the memory */
    jpegbuf_reset(&b);
    CHECK_INT(b.len, 0);
    feed(&b, 1000, 64);
    CHECK(jpegbuf_ok(&b));
    CHECK_INT(g_reallocs, reallocs);
    jpegbuf_free(&b);
    CHECK_INT(g_frees, 1);
    CHECK(b.data == NULL);

    /* over the hard limit: flagged, never silently truncated */
    jpegbuf_init(&b, 10000, test_realloc, test_free, &g_reallocs);
    feed(&b, 10001, 1000);
    CHECK(b.overflow);
    CHECK(!jpegbuf_ok(&b));
    CHECK(b.len <= 10000);
    jpegbuf_reset(&b);
    CHECK(!b.overflow);
    feed(&b, 10000, 1000); /* exactly the limit fits */
    CHECK(jpegbuf_ok(&b));
    CHECK_INT(b.cap, 10000);
    jpegbuf_free(&b);

    /* allocation failure */
    g_reallocs = 0;
    g_fail_after = 1;
    jpegbuf_init(&b, 1 << 20, test_realloc, test_free, &g_reallocs);
    feed(&b, 100000, 4096);
    CHECK(b.alloc_failed);
    CHECK(!jpegbuf_ok(&b));
    /* after a failure further writes are refused until reset */
    uint8_t x = 1;
    CHECK_INT(jpegbuf_write_cb(&b, b.len, &x, 1), 0);
    g_fail_after = -1;
    jpegbuf_reset(&b);
    feed(&b, 100000, 4096);
    CHECK(jpegbuf_ok(&b));
    jpegbuf_free(&b);

    /* out-of-order index is an error */
    jpegbuf_init(&b, 1 << 20, NULL, NULL, NULL); /* default allocator */
    uint8_t soi[2] = {0xFF, 0xD8};
    CHECK_INT(jpegbuf_write_cb(&b, 0, soi, 2), 2);
    CHECK_INT(jpegbuf_write_cb(&b, 5, soi, 2), 0);
    CHECK(b.out_of_order);
    CHECK(!jpegbuf_ok(&b));
    /* NULL data with a length, NULL arg: refused */
    jpegbuf_reset(&b);
    CHECK_INT(jpegbuf_write_cb(&b, 0, NULL, 4), 0);
    CHECK_INT(jpegbuf_write_cb(NULL, 0, soi, 2), 0);
    /* missing EOI: not ok */
    jpegbuf_reset(&b);
    uint8_t partial[6] = {0xFF, 0xD8, 1, 2, 3, 4};
    jpegbuf_write_cb(&b, 0, partial, sizeof(partial));
    CHECK(!jpegbuf_ok(&b));
    jpegbuf_free(&b);
    jpegbuf_free(&b); /* double free is harmless */

    /* tiny hard limit below the initial 4 KB allocation */
    jpegbuf_init(&b, 100, NULL, NULL, NULL);
    feed(&b, 100, 7);
    CHECK(jpegbuf_ok(&b));
    CHECK_INT(b.cap, 100);
    CHECK(!jpegbuf_reserve(&b, 101));
    jpegbuf_free(&b);

    /* jpeg_complete_length */
    const uint8_t good[] = {0xFF, 0xD8, 0x00, 0xFF, 0xD9};
    const uint8_t padded[] = {0xFF, 0xD8, 0x00, 0xFF, 0xD9, 0x00, 0x00};
    const uint8_t two_eoi[] = {0xFF, 0xD8, 0xFF, 0xD9, 0x12, 0xFF, 0xD9, 0x00};
    const uint8_t no_soi[] = {0x00, 0xD8, 0xFF, 0xD9};
    const uint8_t no_eoi[] = {0xFF, 0xD8, 0xFF, 0xD8, 0x00};
    const uint8_t minimal[] = {0xFF, 0xD8, 0xFF, 0xD9};
    const uint8_t overlap[] = {0xFF, 0xD8, 0xD9};
    CHECK_INT(jpeg_complete_length(good, sizeof(good)), 5);
    CHECK_INT(jpeg_complete_length(padded, sizeof(padded)), 5);
    CHECK_INT(jpeg_complete_length(two_eoi, sizeof(two_eoi)), 7);
    CHECK_INT(jpeg_complete_length(no_soi, sizeof(no_soi)), 0);
    CHECK_INT(jpeg_complete_length(no_eoi, sizeof(no_eoi)), 0);
    CHECK_INT(jpeg_complete_length(minimal, sizeof(minimal)), 4);
    CHECK_INT(jpeg_complete_length(overlap, sizeof(overlap)), 0);
    CHECK_INT(jpeg_complete_length(NULL, 10), 0);
    CHECK_INT(jpeg_complete_length(good, 0), 0);
    return check_report("test_jpegbuf");
}
