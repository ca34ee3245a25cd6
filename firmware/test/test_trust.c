#include <string.h>

#include "check.h"
#include "trust.h"

int main(void)
{
    char msg[200];

    CHECK_INT(trust_mode(false, false), TRUST_PLAIN);
    CHECK_INT(trust_mode(false, true), TRUST_PLAIN);   /* a stored CA means nothing for ws:// */
    CHECK_INT(trust_mode(true, false), TRUST_BUNDLE);
    CHECK_INT(trust_mode(true, true), TRUST_CUSTOM);
    CHECK_CONTAINS(trust_mode_name(TRUST_PLAIN), "no TLS");
    CHECK_CONTAINS(trust_mode_name(TRUST_BUNDLE), "bundle");
    CHECK_CONTAINS(trust_mode_name(TRUST_CUSTOM), "cacert");

    /* not trusted: what to do depends on what is trusted now */
    trust_explain_failure(TRUST_BUNDLE, TRUST_BADCERT_NOT_TRUSTED, "10.0.0.2", msg, sizeof(msg));
    CHECK_CONTAINS(msg, "not from a public CA");
    CHECK_CONTAINS(msg, "cacert set");
    trust_explain_failure(TRUST_CUSTOM, TRUST_BADCERT_NOT_TRUSTED | TRUST_BADCERT_CN_MISMATCH, "10.0.0.2", msg,
                          sizeof(msg));
    CHECK_CONTAINS(msg, "not signed by the CA set with 'cacert'");
    /* the wrong name */
    trust_explain_failure(TRUST_CUSTOM, TRUST_BADCERT_CN_MISMATCH, "192.168.1.20", msg, sizeof(msg));
    CHECK_STR(msg, "TLS: the server's certificate does not name 192.168.1.20 (add it to its subjectAltName)");
    trust_explain_failure(TRUST_CUSTOM, TRUST_BADCERT_CN_MISMATCH, NULL, msg, sizeof(msg));
    CHECK_CONTAINS(msg, "does not name the server");
    trust_explain_failure(TRUST_BUNDLE, TRUST_BADCERT_EXPIRED, "h", msg, sizeof(msg));
    CHECK_CONTAINS(msg, "expired");
    trust_explain_failure(TRUST_BUNDLE, TRUST_BADCERT_EXT_KEY_USAGE, "h", msg, sizeof(msg));
    CHECK_CONTAINS(msg, "key usage");
    trust_explain_failure(TRUST_BUNDLE, TRUST_BADCERT_BAD_KEY, "h", msg, sizeof(msg));
    CHECK_CONTAINS(msg, "refuses");
    trust_explain_failure(TRUST_BUNDLE, 0x40u, "h", msg, sizeof(msg));
    CHECK_STR(msg, "TLS: the server's certificate was refused (mbedTLS flags 0x40)");
    /* no certificate flags: the handshake itself failed (e.g. a plain ws server) */
    trust_explain_failure(TRUST_BUNDLE, 0, "cams.example.com", msg, sizeof(msg));
    CHECK_CONTAINS(msg, "does cams.example.com speak TLS");
    /* bounded output */
    char small[16];
    trust_explain_failure(TRUST_BUNDLE, TRUST_BADCERT_NOT_TRUSTED, "h", small, sizeof(small));
    CHECK_INT(strlen(small), sizeof(small) - 1);
    trust_explain_failure(TRUST_BUNDLE, 0, "h", NULL, 0);
    return check_report("test_trust");
}
