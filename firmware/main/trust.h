/*
 * Which certificates a camera connection trusts, and what to tell the user when the server's
 * certificate is refused. Portable: no ESP-IDF includes.
 *
 *   ws://                    plain, nothing to trust (a LAN server run with --no-camera-tls)
 *   wss:// without cacert    the ESP-IDF certificate bundle (public CAs: Let's Encrypt, ...)
 *   wss:// with cacert       only the CA certificate(s) pasted with `cacert set` (self-signed or
 *                            private CA)
 * The server's name is always checked: the certificate must name the host of the server URL
 * (a DNS name, or an IP address in its subjectAltName).
 *
 * The TRUST_BADCERT_* values are mbedTLS's MBEDTLS_X509_BADCERT_* flags (checked against them in
 * stream.c), as esp-tls reports them in esp_tls_cert_verify_flags.
 */
#ifndef TRUST_H
#define TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    TRUST_PLAIN,    /* ws:// */
    TRUST_BUNDLE,   /* wss://, public CAs */
    TRUST_CUSTOM,   /* wss://, the CA set with cacert */
} trust_mode_t;

#define TRUST_BADCERT_EXPIRED 0x01u
#define TRUST_BADCERT_CN_MISMATCH 0x04u
#define TRUST_BADCERT_NOT_TRUSTED 0x08u
#define TRUST_BADCERT_FUTURE 0x0200u
#define TRUST_BADCERT_KEY_USAGE 0x0800u
#define TRUST_BADCERT_EXT_KEY_USAGE 0x1000u
#define TRUST_BADCERT_BAD_MD 0x4000u
#define TRUST_BADCERT_BAD_PK 0x8000u
#define TRUST_BADCERT_BAD_KEY 0x010000u

trust_mode_t trust_mode(bool tls, bool custom_ca);

/* "none (ws://)", "public CAs (ESP-IDF certificate bundle)", "custom CA (cacert)". */
const char *trust_mode_name(trust_mode_t mode);

/*
 * One line for `status` and the log when a wss:// connection failed in the TLS handshake.
 * verify_flags: esp_tls_cert_verify_flags (0 = the handshake failed for another reason, e.g. the
 * server does not speak TLS on that port). host: the server's host, as in the URL.
 */
void trust_explain_failure(trust_mode_t mode, uint32_t verify_flags, const char *host, char *out, size_t out_len);

#endif /* TRUST_H */
