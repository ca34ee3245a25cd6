/*
 * The CA certificate(s) a wss:// connection trusts instead of the public CA bundle, as pasted on
 * the console: PEM text, one or more "-----BEGIN CERTIFICATE-----" blocks. Portable: no ESP-IDF
 * includes. This module checks the armor, the base64 and that each block decodes to one whole
 * DER SEQUENCE (so a missing or damaged line is caught with a clear message); the firmware then
 * lets mbedTLS parse the set, as esp-tls will at every connection.
 *
 * Stored form (NVS blob, what pem_paste builds): only the blocks, one line per line of the paste,
 * each ending in '\n', at most PEM_MAX_LEN bytes. mbedTLS wants PEM with a terminating NUL, which
 * the buffers here always have.
 *
 * Pasting: a serial terminal sends each line end as CR (or CR LF, which the ESP-IDF console turns
 * into two line ends), so blank lines are ignored, and the paste ends by itself after the END
 * line of the last certificate asked for: no extra key press, nothing left over for the REPL.
 */
#ifndef PEM_H
#define PEM_H

#include <stdbool.h>
#include <stddef.h>

#define PEM_MAX_LEN 4096          /* bytes of stored PEM text, without the NUL */
#define PEM_MAX_CERTS 8           /* certificates in one set */
#define PEM_MAX_SKIPPED_LINES 200 /* lines of other text before a block (e.g. openssl -text output) */
#define PEM_ERR_MAX 120

typedef struct {
    int certs;        /* complete certificate blocks */
    size_t len;       /* bytes of text */
    size_t der_len[PEM_MAX_CERTS]; /* decoded size of each certificate */
} pem_info_t;

/*
 * Checks a stored PEM set: one or more CERTIFICATE blocks, nothing but whitespace outside them,
 * len <= PEM_MAX_LEN. text need not be NUL-terminated. info may be NULL.
 */
bool pem_validate(const char *text, size_t len, pem_info_t *info, char *err, size_t err_len);

typedef enum {
    PEM_PASTE_MORE,     /* feed the next line */
    PEM_PASTE_DONE,     /* text holds a valid set; see info */
    PEM_PASTE_FAILED,   /* see err; the rest of a started block was read and dropped */
    PEM_PASTE_ABORTED,  /* the user typed "abort" */
} pem_paste_status_t;

/* Line-by-line checker (small; used by pem_validate and pem_paste). */
typedef struct {
    bool in_block;
    bool bad_block;           /* a block that will be refused: read to its END, then fail */
    int certs;
    size_t b64_chars;         /* base64 characters of the current block (no padding) */
    int pad;                  /* '=' seen in the current block */
    unsigned acc;             /* base64 bits not yet output */
    int acc_bits;
    size_t der_len;           /* bytes decoded so far in the current block */
    unsigned char head[6];    /* first DER bytes: tag and length */
    size_t der_lens[PEM_MAX_CERTS];
    char err[PEM_ERR_MAX + 1];
} pem_scan_t;

typedef struct {
    pem_scan_t scan;
    int want;                 /* certificates still to come */
    int skipped;              /* non-blank lines outside blocks */
    size_t len;
    bool overflow;
    pem_info_t info;
    char err[PEM_ERR_MAX + 64];
    char text[PEM_MAX_LEN + 1];
} pem_paste_t;

/*
 * Starts a paste of `certs` (1..PEM_MAX_CERTS) certificates, appended to `existing` (a stored set,
 * or NULL/0 for a new one; it must not point into *p). False (with p->err) if certs is out of
 * range or existing is invalid.
 */
bool pem_paste_init(pem_paste_t *p, const char *existing, size_t existing_len, int certs);

/*
 * Feeds one line as the console returns it (no line end; a CR and surrounding spaces are
 * ignored). Text before a block is skipped (up to PEM_MAX_SKIPPED_LINES lines), so output of
 * `openssl x509 -text` can be pasted whole. "abort" outside a block cancels.
 */
pem_paste_status_t pem_paste_line(pem_paste_t *p, const char *line);

#endif /* PEM_H */
