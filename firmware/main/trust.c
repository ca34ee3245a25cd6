#include "trust.h"

#include <stdio.h>

trust_mode_t trust_mode(bool tls, bool custom_ca)
{
    if (!tls) {
        return TRUST_PLAIN;
    }
    return custom_ca ? TRUST_CUSTOM : TRUST_BUNDLE;
}

const char *trust_mode_name(trust_mode_t mode)
{
    switch (mode) {
    case TRUST_BUNDLE:
        return "public CAs (ESP-IDF certificate bundle)";
    case TRUST_CUSTOM:
        return "custom CA (cacert)";
    case TRUST_PLAIN:
    default:
        return "none (ws://, no TLS)";
    }
}

void trust_explain_failure(trust_mode_t mode, uint32_t flags, const char *host, char *out, size_t out_len)
{
    if (out == NULL || out_len == 0) {
        return;
    }
    if (host == NULL || host[0] == '\0') {
        host = "the server";
    }
    /* The most useful reason first: an untrusted issuer makes every other flag moot. */
    if (flags & TRUST_BADCERT_NOT_TRUSTED) {
        if (mode == TRUST_CUSTOM) {
            snprintf(out, out_len, "TLS: the server's certificate is not signed by the CA set with 'cacert' "
                                   "(compare 'cacert show')");
        } else {
            snprintf(out, out_len, "TLS: the server's certificate is not from a public CA; for a self-signed or "
                                   "private CA use 'cacert set'");
        }
    } else if (flags & TRUST_BADCERT_CN_MISMATCH) {
        snprintf(out, out_len, "TLS: the server's certificate does not name %s (add it to its subjectAltName)", host);
    } else if (flags & (TRUST_BADCERT_EXPIRED | TRUST_BADCERT_FUTURE)) {
        snprintf(out, out_len, "TLS: the server's certificate has expired or is not valid yet");
    } else if (flags & (TRUST_BADCERT_KEY_USAGE | TRUST_BADCERT_EXT_KEY_USAGE)) {
        snprintf(out, out_len, "TLS: the server's certificate is not for a TLS server (key usage)");
    } else if (flags & (TRUST_BADCERT_BAD_MD | TRUST_BADCERT_BAD_PK | TRUST_BADCERT_BAD_KEY)) {
        snprintf(out, out_len, "TLS: the server's certificate uses a hash or key this firmware refuses");
    } else if (flags) {
        snprintf(out, out_len, "TLS: the server's certificate was refused (mbedTLS flags 0x%lx)", (unsigned long)flags);
    } else {
        snprintf(out, out_len, "TLS handshake failed: does %s speak TLS on this port? (plain server: ws://)", host);
    }
}
