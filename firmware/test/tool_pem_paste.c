/*
 * Feeds stdin to pem_paste line by line, as the console's `cacert set COUNT` does, and prints the
 * outcome; tests/test_firmware_host.py runs it on certificates, keys and chains made by OpenSSL.
 *   tool_pem_paste COUNT [--cr-to-lf]
 * --cr-to-lf turns every CR into LF first, as the ESP-IDF console does with its input (a CR LF
 * paste then arrives as a line and an empty one).
 * Output: "status=DONE certs=N len=N lines=N der=N,N..." and "err=..." lines, then "text:" and the
 * stored text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pem.h"

static pem_paste_t paste;

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s COUNT [--cr-to-lf]\n", argv[0]);
        return 2;
    }
    int count = atoi(argv[1]);
    int cr_to_lf = argc > 2 && strcmp(argv[2], "--cr-to-lf") == 0;
    if (!pem_paste_init(&paste, NULL, 0, count)) {
        printf("status=INIT err=%s\n", paste.err);
        return 0;
    }
    static const char *names[] = {"MORE", "DONE", "FAILED", "ABORTED"};
    char line[1024];
    size_t n = 0;
    int lines = 0, c;
    pem_paste_status_t st = PEM_PASTE_MORE;
    while (st == PEM_PASTE_MORE && (c = getchar()) != EOF) {
        if (c == '\r' && cr_to_lf) {
            c = '\n';
        }
        if (c != '\n') {
            if (n + 1 < sizeof(line)) {
                line[n++] = (char)c;
            }
            continue;
        }
        line[n] = '\0';
        n = 0;
        lines++;
        st = pem_paste_line(&paste, line);
    }
    printf("status=%s certs=%d len=%u lines=%d der=", names[st], paste.info.certs, (unsigned)paste.len, lines);
    for (int i = 0; i < paste.info.certs; i++) {
        printf("%s%u", i ? "," : "", (unsigned)paste.info.der_len[i]);
    }
    printf("\nerr=%s\ntext:\n%s", paste.err, st == PEM_PASTE_DONE ? paste.text : "");
    return 0;
}
