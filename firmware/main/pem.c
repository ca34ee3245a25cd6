#include "pem.h"

#include <stdio.h>
#include <string.h>

#define BEGIN_PREFIX "-----BEGIN "
#define END_PREFIX "-----END "
#define DASHES "-----"

typedef enum {
    SCAN_BLANK,         /* nothing (outside a block) */
    SCAN_OUTSIDE_TEXT,  /* a non-blank line outside any block */
    SCAN_BLOCK_LINE,    /* BEGIN or a body line: part of a block */
    SCAN_CERT_DONE,     /* END of a good certificate block */
    SCAN_BAD_DONE,      /* END of a refused block: see err */
} scan_result_t;

static void set_err(char *err, size_t err_len, const char *msg)
{
    if (err && err_len) {
        snprintf(err, err_len, "%s", msg);
    }
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Strips spaces and CR at both ends. */
static void trim(const char **line, size_t *n)
{
    while (*n > 0 && is_space((*line)[0])) {
        (*line)++;
        (*n)--;
    }
    while (*n > 0 && is_space((*line)[*n - 1])) {
        (*n)--;
    }
}

static bool starts_with(const char *s, size_t n, const char *prefix)
{
    size_t pn = strlen(prefix);
    return n >= pn && memcmp(s, prefix, pn) == 0;
}

/* For "-----BEGIN X-----" / "-----END X-----": the label X, or false if the line is not armor. */
static bool armor_label(const char *s, size_t n, const char *prefix, const char **label, size_t *label_len)
{
    size_t pn = strlen(prefix), dn = strlen(DASHES);
    if (!starts_with(s, n, prefix) || n < pn + dn || memcmp(s + n - dn, DASHES, dn) != 0) {
        return false;
    }
    *label = s + pn;
    *label_len = n - pn - dn;
    return true;
}

static bool label_is(const char *label, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(label, want, n) == 0;
}

static bool label_contains(const char *label, size_t n, const char *part)
{
    size_t pn = strlen(part);
    for (size_t i = 0; i + pn <= n; i++) {
        if (memcmp(label + i, part, pn) == 0) {
            return true;
        }
    }
    return false;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

/* Marks the current block as refused (the first reason wins); it is still read to its END. */
static void refuse(pem_scan_t *s, const char *why)
{
    if (!s->bad_block) {
        s->bad_block = true;
        snprintf(s->err, sizeof(s->err), "certificate %d: %s", s->certs + 1, why);
    }
}

static void start_block(pem_scan_t *s)
{
    s->in_block = true;
    s->bad_block = false;
    s->b64_chars = 0;
    s->pad = 0;
    s->acc = 0;
    s->acc_bits = 0;
    s->der_len = 0;
    memset(s->head, 0, sizeof(s->head));
}

static void body_line(pem_scan_t *s, const char *line, size_t n)
{
    for (size_t i = 0; i < n && !s->bad_block; i++) {
        char c = line[i];
        if (c == '=') {
            if (++s->pad > 2) {
                refuse(s, "too much '=' padding");
            }
            continue;
        }
        int v = b64_value(c);
        if (v < 0) {
            refuse(s, is_space(c) ? "a space inside a base64 line" : "a character that is not base64 (damaged paste?)");
            return;
        }
        if (s->pad) {
            refuse(s, "base64 continues after '=' padding (lines out of order?)");
            return;
        }
        s->b64_chars++;
        s->acc = ((s->acc << 6) | (unsigned)v) & 0xFFFFu;
        s->acc_bits += 6;
        if (s->acc_bits >= 8) {
            s->acc_bits -= 8;
            unsigned char byte = (unsigned char)((s->acc >> s->acc_bits) & 0xFFu);
            if (s->der_len < sizeof(s->head)) {
                s->head[s->der_len] = byte;
            }
            s->der_len++;
        }
    }
}

/* Whether the decoded block is exactly one DER SEQUENCE (a certificate is one). */
static void check_der(pem_scan_t *s)
{
    size_t chars = s->b64_chars + (size_t)s->pad;
    if (s->der_len == 0) {
        refuse(s, "no base64 data between BEGIN and END");
        return;
    }
    if (chars % 4 != 0 || (s->b64_chars % 4 == 1) || (s->pad && s->pad != (int)(4 - s->b64_chars % 4))) {
        refuse(s, "base64 length is wrong: a line is missing or cut short");
        return;
    }
    if (s->head[0] != 0x30 || s->der_len < 2) {
        refuse(s, "the data does not start like a certificate (first line missing?)");
        return;
    }
    size_t header = 2, value;
    if (s->head[1] < 0x80) {
        value = s->head[1];
    } else {
        size_t nbytes = s->head[1] & 0x7Fu;
        if (nbytes == 0 || nbytes > 3 || s->der_len < 2 + nbytes) {
            refuse(s, "the data is not a certificate (bad DER length)");
            return;
        }
        value = 0;
        for (size_t i = 0; i < nbytes; i++) {
            value = (value << 8) | s->head[2 + i];
        }
        header += nbytes;
    }
    if (header + value > s->der_len) {
        refuse(s, "incomplete: a line is missing or cut short");
    } else if (header + value < s->der_len) {
        refuse(s, "extra data after the certificate (two pasted into one?)");
    }
}

/* One trimmed line. */
static scan_result_t scan_line(pem_scan_t *s, const char *line, size_t n)
{
    const char *label;
    size_t label_len;
    if (!s->in_block) {
        if (n == 0) {
            return SCAN_BLANK;
        }
        if (!armor_label(line, n, BEGIN_PREFIX, &label, &label_len)) {
            return SCAN_OUTSIDE_TEXT;
        }
        start_block(s);
        if (label_is(label, label_len, "CERTIFICATE")) {
            if (s->certs >= PEM_MAX_CERTS) {
                refuse(s, "too many certificates (at most 8)");
            }
        } else if (label_contains(label, label_len, "PRIVATE KEY")) {
            refuse(s, "this is a PRIVATE KEY: paste the certificate, never the key");
        } else if (label_is(label, label_len, "TRUSTED CERTIFICATE")) {
            refuse(s, "OpenSSL's TRUSTED CERTIFICATE form is not supported: use 'openssl x509 -in F -out F2'");
        } else {
            refuse(s, "not a CERTIFICATE block (e.g. a key or a certificate request)");
        }
        return SCAN_BLOCK_LINE;
    }
    if (n == 0) {
        return SCAN_BLOCK_LINE; /* blank lines inside a block: a CR LF paste */
    }
    if (armor_label(line, n, END_PREFIX, &label, &label_len)) {
        s->in_block = false;
        if (!s->bad_block && !label_is(label, label_len, "CERTIFICATE")) {
            refuse(s, "BEGIN CERTIFICATE ends with another END line");
        }
        if (!s->bad_block) {
            check_der(s);
        }
        if (s->bad_block) {
            return SCAN_BAD_DONE;
        }
        s->der_lens[s->certs++] = s->der_len;
        return SCAN_CERT_DONE;
    }
    if (starts_with(line, n, "-----")) {
        refuse(s, "a new BEGIN before the END line (a line missing?)");
        return SCAN_BLOCK_LINE;
    }
    body_line(s, line, n);
    return SCAN_BLOCK_LINE;
}

static void fill_info(const pem_scan_t *s, size_t len, pem_info_t *info)
{
    if (info) {
        memset(info, 0, sizeof(*info));
        info->certs = s->certs;
        info->len = len;
        memcpy(info->der_len, s->der_lens, sizeof(info->der_len));
    }
}

bool pem_validate(const char *text, size_t len, pem_info_t *info, char *err, size_t err_len)
{
    pem_scan_t s;
    memset(&s, 0, sizeof(s));
    if (info) {
        memset(info, 0, sizeof(*info));
    }
    if (text == NULL || len == 0) {
        set_err(err, err_len, "no certificate");
        return false;
    }
    if (len > PEM_MAX_LEN) {
        set_err(err, err_len, "too long (at most 4096 bytes of certificates)");
        return false;
    }
    if (memchr(text, '\0', len)) {
        set_err(err, err_len, "contains a NUL byte");
        return false;
    }
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *line = p;
        p += n + (nl ? 1 : 0);
        trim(&line, &n);
        switch (scan_line(&s, line, n)) {
        case SCAN_OUTSIDE_TEXT:
            set_err(err, err_len, "text outside the BEGIN/END CERTIFICATE blocks");
            return false;
        case SCAN_BAD_DONE:
            set_err(err, err_len, s.err);
            return false;
        default:
            break;
        }
    }
    if (s.in_block) {
        set_err(err, err_len, s.bad_block ? s.err : "the last certificate has no END line");
        return false;
    }
    if (s.certs == 0) {
        set_err(err, err_len, "no certificate");
        return false;
    }
    fill_info(&s, len, info);
    return true;
}

bool pem_paste_init(pem_paste_t *p, const char *existing, size_t existing_len, int certs)
{
    memset(p, 0, sizeof(*p));
    if (certs < 1 || certs > PEM_MAX_CERTS) {
        set_err(p->err, sizeof(p->err), "the number of certificates must be 1-8");
        return false;
    }
    if (existing && existing_len) {
        char why[PEM_ERR_MAX + 1];
        if (!pem_validate(existing, existing_len, &p->info, why, sizeof(why))) {
            snprintf(p->err, sizeof(p->err), "the stored certificates are invalid (%s): use 'cacert set'", why);
            return false;
        }
        if (p->info.certs + certs > PEM_MAX_CERTS) {
            set_err(p->err, sizeof(p->err), "at most 8 certificates in all");
            return false;
        }
        memcpy(p->text, existing, existing_len);
        p->len = existing_len;
        p->scan.certs = p->info.certs;
        memcpy(p->scan.der_lens, p->info.der_len, sizeof(p->scan.der_lens));
    }
    p->text[p->len] = '\0';
    p->want = certs;
    return true;
}

static void append_line(pem_paste_t *p, const char *line, size_t n)
{
    if (p->overflow || p->len + n + 1 > PEM_MAX_LEN) {
        p->overflow = true;
        return;
    }
    memcpy(p->text + p->len, line, n);
    p->len += n;
    p->text[p->len++] = '\n';
    p->text[p->len] = '\0';
}

static pem_paste_status_t fail(pem_paste_t *p, const char *why)
{
    set_err(p->err, sizeof(p->err), why);
    p->want = -1;
    return PEM_PASTE_FAILED;
}

pem_paste_status_t pem_paste_line(pem_paste_t *p, const char *line)
{
    if (p->want <= 0) {
        return p->want == 0 ? PEM_PASTE_DONE : PEM_PASTE_FAILED;
    }
    size_t n = line ? strlen(line) : 0;
    if (line == NULL) {
        line = "";
    }
    trim(&line, &n);
    if (n == 5 && strncmp(line, "abort", 5) == 0) {
        p->want = -1;
        set_err(p->err, sizeof(p->err), "aborted");
        return PEM_PASTE_ABORTED;
    }
    switch (scan_line(&p->scan, line, n)) {
    case SCAN_BLANK:
        return PEM_PASTE_MORE;
    case SCAN_OUTSIDE_TEXT:
        if (++p->skipped > PEM_MAX_SKIPPED_LINES) {
            return fail(p, "no -----BEGIN CERTIFICATE----- line in the pasted text");
        }
        return PEM_PASTE_MORE;
    case SCAN_BLOCK_LINE:
        if (n > 0) {
            append_line(p, line, n);
        }
        return PEM_PASTE_MORE;
    case SCAN_BAD_DONE:
        return fail(p, p->scan.err);
    case SCAN_CERT_DONE:
        append_line(p, line, n);
        if (p->overflow) {
            return fail(p, "too long (at most 4096 bytes of certificates)");
        }
        if (--p->want > 0) {
            return PEM_PASTE_MORE;
        }
        {
            char why[PEM_ERR_MAX + 1];
            if (!pem_validate(p->text, p->len, &p->info, why, sizeof(why))) {
                return fail(p, why); /* not expected: each block was checked as it came */
            }
        }
        return PEM_PASTE_DONE;
    }
    return fail(p, "internal error");
}
