#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pem.h"
#include "pem_fixtures.h"

static pem_paste_t paste;
static char err[PEM_ERR_MAX + 1];
static pem_info_t info;

/*
 * Feeds text line by line as the console returns it. With blank_between, every line is followed
 * by an empty one: what a CR LF terminal paste becomes on the ESP-IDF console.
 * Returns the final status; *lines_used says how many lines were read before it.
 */
static pem_paste_status_t feed(const char *text, bool blank_between, int *lines_used)
{
    char line[600];
    pem_paste_status_t st = PEM_PASTE_MORE;
    int used = 0;
    const char *p = text;
    while (*p && st == PEM_PASTE_MORE) {
        size_t n = strcspn(p, "\n");
        if (n >= sizeof(line)) {
            n = sizeof(line) - 1;
        }
        memcpy(line, p, n);
        line[n] = '\0';
        p += n + (p[n] == '\n');
        st = pem_paste_line(&paste, line);
        used++;
        if (blank_between && st == PEM_PASTE_MORE) {
            st = pem_paste_line(&paste, "");
        }
    }
    if (lines_used) {
        *lines_used = used;
    }
    return st;
}

static pem_paste_status_t paste_new(const char *text, int certs)
{
    CHECK(pem_paste_init(&paste, NULL, 0, certs));
    return feed(text, false, NULL);
}

/* text with the n-th line (0-based) removed */
static char *without_line(const char *text, int n)
{
    char *out = malloc(strlen(text) + 1);
    const char *p = text;
    char *o = out;
    for (int i = 0; *p; i++) {
        size_t len = strcspn(p, "\n") + 1;
        if (i != n) {
            memcpy(o, p, len);
            o += len;
        }
        p += len;
    }
    *o = '\0';
    return out;
}

static char *replace_once(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    char *out = malloc(strlen(text) + strlen(to) + 1);
    size_t head = (size_t)(at - text);
    memcpy(out, text, head);
    strcpy(out + head, to);
    strcat(out, at + strlen(from));
    return out;
}

int main(void)
{
    /* real certificates made by OpenSSL validate, with their DER sizes */
    CHECK(pem_validate(EC_PEM, strlen(EC_PEM), &info, err, sizeof(err)));
    CHECK_INT(info.certs, 1);
    CHECK_INT(info.der_len[0], EC_DER_LEN);
    CHECK_INT(info.len, strlen(EC_PEM));
    CHECK(pem_validate(RSA_PEM, strlen(RSA_PEM), &info, err, sizeof(err)));
    CHECK_INT(info.der_len[0], RSA_DER_LEN);

    /* a set of two */
    char set[4096];
    snprintf(set, sizeof(set), "%s%s", RSA_PEM, EC_PEM);
    CHECK(pem_validate(set, strlen(set), &info, err, sizeof(err)));
    CHECK_INT(info.certs, 2);
    CHECK_INT(info.der_len[0], RSA_DER_LEN);
    CHECK_INT(info.der_len[1], EC_DER_LEN);

    /* pasting: one certificate ends the paste by itself at its END line */
    int used = 0;
    CHECK(pem_paste_init(&paste, NULL, 0, 1));
    CHECK_INT(feed(EC_PEM, false, &used), PEM_PASTE_DONE);
    CHECK_INT(used, 12);
    CHECK_STR(paste.text, EC_PEM);   /* stored exactly as OpenSSL wrote it */
    CHECK_INT(paste.len, strlen(EC_PEM));
    CHECK_INT(paste.info.certs, 1);
    CHECK_INT(pem_paste_line(&paste, "more"), PEM_PASTE_DONE); /* finished stays finished */

    /* CR LF pastes (blank line after every line), CRs, spaces and tabs around lines */
    CHECK(pem_paste_init(&paste, NULL, 0, 1));
    CHECK_INT(feed(EC_PEM, true, NULL), PEM_PASTE_DONE);
    CHECK_STR(paste.text, EC_PEM);
    char *messy = replace_once(EC_PEM, "MIIBsDCC", "  \tMIIBsDCC");
    char *messy2 = replace_once(messy, "-----END CERTIFICATE-----\n", "-----END CERTIFICATE-----  \r\n");
    CHECK_INT(paste_new(messy2, 1), PEM_PASTE_DONE);
    CHECK_STR(paste.text, EC_PEM);
    free(messy);
    free(messy2);

    /* text before the block (e.g. `openssl x509 -text` output) is skipped */
    char text_then_pem[4096];
    snprintf(text_then_pem, sizeof(text_then_pem),
             "Certificate:\n    Data:\n        Version: 3 (0x2)\n\n%s", EC_PEM);
    CHECK_INT(paste_new(text_then_pem, 1), PEM_PASTE_DONE);
    CHECK_STR(paste.text, EC_PEM);
    CHECK_INT(paste.skipped, 3);
    /* ... but not forever */
    CHECK(pem_paste_init(&paste, NULL, 0, 1));
    pem_paste_status_t st = PEM_PASTE_MORE;
    int n = 0;
    while (st == PEM_PASTE_MORE && n < 1000) {
        st = pem_paste_line(&paste, "this is not a certificate");
        n++;
    }
    CHECK_INT(st, PEM_PASTE_FAILED);
    CHECK_INT(n, PEM_MAX_SKIPPED_LINES + 1);
    CHECK_CONTAINS(paste.err, "no -----BEGIN CERTIFICATE-----");

    /* two certificates asked for: the first END does not end the paste */
    CHECK(pem_paste_init(&paste, NULL, 0, 2));
    CHECK_INT(feed(RSA_PEM, true, NULL), PEM_PASTE_MORE);
    CHECK_INT(feed(EC_PEM, true, NULL), PEM_PASTE_DONE);
    CHECK_STR(paste.text, set);
    CHECK_INT(paste.info.certs, 2);

    /* adding to a stored set */
    CHECK(pem_paste_init(&paste, RSA_PEM, strlen(RSA_PEM), 1));
    CHECK_INT(feed(EC_PEM, false, NULL), PEM_PASTE_DONE);
    CHECK_STR(paste.text, set);
    CHECK_INT(paste.info.certs, 2);
    CHECK(!pem_paste_init(&paste, "garbage", 7, 1));
    CHECK_CONTAINS(paste.err, "stored certificates are invalid");
    CHECK(!pem_paste_init(&paste, NULL, 0, 0));
    CHECK(!pem_paste_init(&paste, NULL, 0, PEM_MAX_CERTS + 1));
    CHECK_CONTAINS(paste.err, "1-8");

    /* "abort" cancels, inside or outside a block */
    CHECK(pem_paste_init(&paste, NULL, 0, 1));
    CHECK_INT(pem_paste_line(&paste, "abort"), PEM_PASTE_ABORTED);
    CHECK(pem_paste_init(&paste, NULL, 0, 1));
    CHECK_INT(pem_paste_line(&paste, "-----BEGIN CERTIFICATE-----"), PEM_PASTE_MORE);
    CHECK_INT(pem_paste_line(&paste, " abort\r"), PEM_PASTE_ABORTED);

    /* a private key is refused, and the rest of its block is read (not left for the REPL) */
    static const char key[] =
        "-----BEGIN PRIVATE KEY-----\n"
        "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgAAAAAAAAAAAAAAAA\n"
        "-----END PRIVATE KEY-----\n"
        "after\n";
    CHECK(pem_paste_init(&paste, NULL, 0, 1));
    CHECK_INT(feed(key, false, &used), PEM_PASTE_FAILED);
    CHECK_INT(used, 3);
    CHECK_CONTAINS(paste.err, "PRIVATE KEY");
    CHECK_CONTAINS(paste.err, "never the key");
    CHECK_INT(paste_new("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n", 1),
              PEM_PASTE_FAILED);
    CHECK_CONTAINS(paste.err, "PRIVATE KEY");
    CHECK_INT(paste_new("-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n", 1),
              PEM_PASTE_FAILED);
    CHECK_CONTAINS(paste.err, "not a CERTIFICATE block");
    CHECK_INT(paste_new("-----BEGIN TRUSTED CERTIFICATE-----\nMIIB\n-----END TRUSTED CERTIFICATE-----\n", 1),
              PEM_PASTE_FAILED);
    CHECK_CONTAINS(paste.err, "TRUSTED CERTIFICATE");

    /* a missing line anywhere in the body is caught */
    for (int line = 1; line <= 10; line++) {
        char *cut = without_line(EC_PEM, line);
        CHECK_INT(paste_new(cut, 1), PEM_PASTE_FAILED);
        CHECK(strstr(paste.err, "missing") != NULL);
        CHECK(!pem_validate(cut, strlen(cut), NULL, err, sizeof(err)));
        free(cut);
    }
    /* a damaged character */
    char *bad = replace_once(EC_PEM, "HDEaMBgG", "HDEa*BgG");
    CHECK_INT(paste_new(bad, 1), PEM_PASTE_FAILED);
    CHECK_CONTAINS(paste.err, "certificate 1: a character that is not base64");
    free(bad);
    bad = replace_once(EC_PEM, "HDEaMBgG", "HDEa BgG");
    CHECK_INT(paste_new(bad, 1), PEM_PASTE_FAILED);
    CHECK_CONTAINS(paste.err, "space inside");
    free(bad);
    /* lines out of order: padding in the middle */
    bad = replace_once(EC_PEM, "zikAeQ==\n", "");
    char *bad2 = replace_once(bad, "MIIBsDCC", "zikAeQ==\nMIIBsDCC");
    CHECK_INT(paste_new(bad2, 1), PEM_PASTE_FAILED);
    CHECK_CONTAINS(paste.err, "after '=' padding");
    free(bad);
    free(bad2);
    /* one extra byte makes it more than one DER object */
    bad = replace_once(EC_PEM, "zikAeQ==", "zikAeQAA");
    CHECK_INT(paste_new(bad, 1), PEM_PASTE_FAILED);
    CHECK_CONTAINS(paste.err, "extra data");
    free(bad);
    /* base64 that is not DER */
    CHECK_INT(paste_new("-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n", 1),
              PEM_PASTE_FAILED);
    CHECK_CONTAINS(paste.err, "does not start like a certificate");
    CHECK_INT(paste_new("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", 1), PEM_PASTE_FAILED);
    CHECK_CONTAINS(paste.err, "no base64 data");
    CHECK_INT(paste_new("-----BEGIN CERTIFICATE-----\nMIIB===\n-----END CERTIFICATE-----\n", 1), PEM_PASTE_FAILED);
    CHECK_CONTAINS(paste.err, "padding");
    /* armor mix-ups */
    bad = replace_once(EC_PEM, "-----END CERTIFICATE-----", "-----END PUBLIC KEY-----");
    CHECK_INT(paste_new(bad, 1), PEM_PASTE_FAILED);
    CHECK_CONTAINS(paste.err, "another END");
    free(bad);
    bad = replace_once(EC_PEM, "-----END CERTIFICATE-----\n", "");
    snprintf(set, sizeof(set), "%s%s", bad, RSA_PEM); /* END lost: the next BEGIN comes first */
    CHECK_INT(paste_new(set, 1), PEM_PASTE_FAILED);
    CHECK_CONTAINS(paste.err, "new BEGIN before the END");
    CHECK(!pem_validate(bad, strlen(bad), NULL, err, sizeof(err)));
    CHECK_CONTAINS(err, "no END line");
    free(bad);

    /* size bound: 4096 bytes of text */
    CHECK(pem_paste_init(&paste, NULL, 0, 8));
    st = PEM_PASTE_MORE;
    int pasted = 0;
    for (int i = 0; i < 8 && st == PEM_PASTE_MORE; i++) {
        st = feed(RSA_PEM, false, NULL);
        pasted++;
    }
    CHECK_INT(st, PEM_PASTE_FAILED);
    CHECK_INT(pasted, 4);   /* 4 x 1139 bytes > 4096 */
    CHECK_CONTAINS(paste.err, "too long");
    CHECK(paste.len <= PEM_MAX_LEN);
    CHECK_INT(paste.text[PEM_MAX_LEN], '\0');
    /* exactly at the bound is fine, one byte more is not */
    char big[PEM_MAX_LEN + 2];
    snprintf(big, sizeof(big), "%s%s%s", RSA_PEM, RSA_PEM, RSA_PEM);
    size_t used_len = strlen(big);
    memset(big + used_len, '\n', sizeof(big) - used_len);
    CHECK(pem_validate(big, PEM_MAX_LEN, &info, err, sizeof(err)));
    CHECK_INT(info.certs, 3);
    CHECK_INT(info.len, PEM_MAX_LEN);
    CHECK(!pem_validate(big, PEM_MAX_LEN + 1, NULL, err, sizeof(err)));
    CHECK_CONTAINS(err, "too long");
    /* at most 8 certificates (tiny stand-ins: an empty DER SEQUENCE each) */
    static const char tiny[] = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
    static char nine[9 * sizeof(tiny)];
    nine[0] = '\0';
    for (int i = 0; i < 9; i++) {
        strcat(nine, tiny);
    }
    CHECK(!pem_validate(nine, strlen(nine), NULL, err, sizeof(err)));
    CHECK_STR(err, "certificate 9: too many certificates (at most 8)");
    CHECK(pem_paste_init(&paste, NULL, 0, 8));
    CHECK_INT(feed(nine, false, NULL), PEM_PASTE_DONE); /* stops after 8, the 9th is not read */
    CHECK_INT(paste.info.certs, 8);
    char eight[PEM_MAX_LEN + 1];
    memcpy(eight, paste.text, paste.len + 1);
    CHECK(!pem_paste_init(&paste, eight, strlen(eight), 1));
    CHECK_CONTAINS(paste.err, "at most 8");

    /* stored form: nothing but whitespace outside the blocks */
    snprintf(set, sizeof(set), "junk\n%s", EC_PEM);
    CHECK(!pem_validate(set, strlen(set), NULL, err, sizeof(err)));
    CHECK_CONTAINS(err, "outside");
    snprintf(set, sizeof(set), "\n\r\n%s\n\n", EC_PEM);
    CHECK(pem_validate(set, strlen(set), NULL, err, sizeof(err)));
    CHECK(!pem_validate(NULL, 0, NULL, err, sizeof(err)));
    CHECK_STR(err, "no certificate");
    CHECK(!pem_validate("\n\n", 2, NULL, err, sizeof(err)));
    CHECK_STR(err, "no certificate");
    memcpy(set, EC_PEM, sizeof(EC_PEM));
    set[100] = '\0';
    CHECK(!pem_validate(set, strlen(EC_PEM), NULL, err, sizeof(err)));
    CHECK_CONTAINS(err, "NUL");
    /* not NUL-terminated input: only len bytes are read */
    CHECK(pem_validate(set, 0, NULL, NULL, 0) == false);
    CHECK(pem_validate(EC_PEM, strlen(EC_PEM), NULL, NULL, 0));
    return check_report("test_pem");
}
