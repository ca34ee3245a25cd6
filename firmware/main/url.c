#include "url.h"

#include <stdio.h>
#include <string.h>

static void set_err(char *err, size_t err_len, const char *msg)
{
    if (err && err_len) {
        snprintf(err, err_len, "%s", msg);
    }
}

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_hex(char c)
{
    return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9');
}

static bool prefix_nocase(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++) {
        char a = *s, b = *prefix;
        if (a >= 'A' && a <= 'Z') {
            a = (char)(a - 'A' + 'a');
        }
        if (a != b) {
            return false;
        }
    }
    return true;
}

bool url_camera_id_valid(const char *id)
{
    if (id == NULL) {
        return false;
    }
    size_t n = 0;
    for (const char *p = id; *p; p++, n++) {
        if (!(is_alnum(*p) || *p == '_' || *p == '-') || n >= CAMERA_ID_MAX_LEN) {
            return false;
        }
    }
    return n >= 1;
}

static bool valid_hostname(const char *h, size_t n)
{
    if (n == 0 || n > URL_HOST_MAX) {
        return false;
    }
    size_t label = 0;
    char prev = '.';
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (c == '.') {
            if (label == 0 || prev == '-') {
                return false;
            }
            label = 0;
        } else if (is_alnum(c) || c == '_' || c == '-') {
            if (label == 0 && c == '-') {
                return false;
            }
            if (++label > 63) {
                return false;
            }
        } else {
            return false;
        }
        prev = c;
    }
    return label > 0 && prev != '-'; /* no trailing dot or dash */
}

static bool valid_ipv6_literal(const char *h, size_t n)
{
    /* "[...]" with hex digits, ':' and '.', at least one ':' */
    if (n < 4 || h[0] != '[' || h[n - 1] != ']') {
        return false;
    }
    bool colon = false;
    for (size_t i = 1; i + 1 < n; i++) {
        if (h[i] == ':') {
            colon = true;
        } else if (!is_hex(h[i]) && h[i] != '.') {
            return false;
        }
    }
    return colon;
}

static bool path_char(char c)
{
    return is_alnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

bool url_parse(const char *url, url_parts_t *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof(*out));
    if (url == NULL || *url == '\0') {
        set_err(err, err_len, "empty URL");
        return false;
    }
    size_t total = strlen(url);
    if (total > URL_MAX_LEN) {
        set_err(err, err_len, "URL too long (max 200 characters)");
        return false;
    }
    for (const char *p = url; *p; p++) {
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7F) {
            set_err(err, err_len, "URL must not contain spaces or control/non-ASCII characters");
            return false;
        }
    }
    const char *p;
    if (prefix_nocase(url, "ws://")) {
        p = url + 5;
    } else if (prefix_nocase(url, "wss://")) {
        p = url + 6;
        out->tls = true;
    } else if (prefix_nocase(url, "http://")) {
        set_err(err, err_len, "use ws://, not http://, e.g. ws://192.168.1.20:8765");
        return false;
    } else if (prefix_nocase(url, "https://")) {
        set_err(err, err_len, "use wss://, not https://, e.g. wss://cams.example.com:8765");
        return false;
    } else {
        set_err(err, err_len, "URL must start with ws:// or wss://, e.g. ws://192.168.1.20:8765");
        return false;
    }
    if (strpbrk(p, "?#")) {
        set_err(err, err_len, "no query (?...) or fragment (#...) allowed; set the token with the 'token' command");
        return false;
    }
    size_t auth_len = strcspn(p, "/");
    if (memchr(p, '@', auth_len)) {
        set_err(err, err_len, "user info (user@host) is not supported");
        return false;
    }
    /* host[:port] */
    const char *host = p;
    size_t host_len;
    const char *port_str = NULL;
    size_t port_len = 0;
    if (*host == '[') {
        const char *close = memchr(host, ']', auth_len);
        if (close == NULL) {
            set_err(err, err_len, "unterminated IPv6 address");
            return false;
        }
        host_len = (size_t)(close - host) + 1;
        if (host_len < auth_len) {
            if (host[host_len] != ':') {
                set_err(err, err_len, "bad characters after the IPv6 address");
                return false;
            }
            port_str = host + host_len + 1;
            port_len = auth_len - host_len - 1;
        }
        if (!valid_ipv6_literal(host, host_len)) {
            set_err(err, err_len, "invalid IPv6 address");
            return false;
        }
    } else {
        const char *colon = memchr(host, ':', auth_len);
        host_len = colon ? (size_t)(colon - host) : auth_len;
        if (colon) {
            port_str = colon + 1;
            port_len = auth_len - host_len - 1;
        }
        if (host_len == 0) {
            set_err(err, err_len, "missing host name");
            return false;
        }
        if (!valid_hostname(host, host_len)) {
            set_err(err, err_len, "invalid host name (letters, digits, '-', '_' and '.' only)");
            return false;
        }
    }
    memcpy(out->host, host, host_len);
    out->host[host_len] = '\0';
    if (port_str) {
        unsigned long v = 0;
        if (port_len == 0 || port_len > 5) {
            set_err(err, err_len, "port must be a number 1-65535");
            return false;
        }
        for (size_t i = 0; i < port_len; i++) {
            if (port_str[i] < '0' || port_str[i] > '9') {
                set_err(err, err_len, "port must be a number 1-65535");
                return false;
            }
            v = v * 10 + (unsigned long)(port_str[i] - '0');
        }
        if (v < 1 || v > 65535) {
            set_err(err, err_len, "port must be a number 1-65535");
            return false;
        }
        out->port = (unsigned)v;
        out->port_given = true;
    } else {
        out->port = out->tls ? 443 : 80;
    }
    /* path: "/seg/seg" with an optional trailing slash; no empty or dot segments */
    const char *path = p + auth_len;
    size_t plen = strlen(path);
    while (plen > 0 && path[plen - 1] == '/' ) {
        plen--;
        if (plen > 0 && path[plen - 1] == '/') {
            set_err(err, err_len, "empty path segment (//)");
            return false;
        }
    }
    size_t seg = 0;
    for (size_t i = 0; i < plen; i++) {
        char c = path[i];
        if (c == '/') {
            if (i > 0 && seg == 0) {
                set_err(err, err_len, "empty path segment (//)");
                return false;
            }
            seg = 0;
            continue;
        }
        if (!path_char(c)) {
            set_err(err, err_len, "path may only contain letters, digits, '-', '_', '.', '~' and '/'");
            return false;
        }
        seg++;
    }
    memcpy(out->path, path, plen);
    out->path[plen] = '\0';
    /* refuse "." and ".." segments */
    for (const char *s = out->path; *s;) {
        s++; /* skip '/' */
        size_t n = strcspn(s, "/");
        if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) {
            set_err(err, err_len, "path must not contain '.' or '..' segments");
            return false;
        }
        s += n;
    }
    return true;
}

static bool format_base(const url_parts_t *u, const char *path, char *out, size_t out_len, char *err, size_t err_len)
{
    char port[12] = "";
    if (u->port_given) {
        snprintf(port, sizeof(port), ":%u", u->port);
    }
    int n = snprintf(out, out_len, "%s://%s%s%s", u->tls ? "wss" : "ws", u->host, port, path);
    if (n < 0 || (size_t)n >= out_len) {
        set_err(err, err_len, "URL too long");
        if (out && out_len) {
            out[0] = '\0';
        }
        return false;
    }
    return true;
}

bool url_normalize(const char *input, char *out, size_t out_len, char *err, size_t err_len)
{
    url_parts_t u;
    if (!url_parse(input, &u, err, err_len)) {
        return false;
    }
    return format_base(&u, u.path, out, out_len, err, err_len);
}

bool url_split_server(const char *input, char *base, size_t base_len, char *camera_id, size_t id_len,
                      char *err, size_t err_len)
{
    url_parts_t u;
    if (!url_parse(input, &u, err, err_len)) {
        return false;
    }
    const char *last = strrchr(u.path, '/');
    char id[CAMERA_ID_MAX_LEN + 1] = "";
    if (last && last[1]) {
        if (!url_camera_id_valid(last + 1)) {
            set_err(err, err_len, "the last path segment is the camera id and must be 1-64 characters from A-Z a-z 0-9 _ -");
            return false;
        }
        snprintf(id, sizeof(id), "%s", last + 1);
        u.path[last - u.path] = '\0';
    }
    if (!format_base(&u, u.path, base, base_len, err, err_len)) {
        return false;
    }
    int n = snprintf(camera_id, id_len, "%s", id);
    if (n < 0 || (size_t)n >= id_len) {
        set_err(err, err_len, "camera id too long");
        return false;
    }
    return true;
}

bool url_build_stream(const char *base, const char *camera_id, char *out, size_t out_len)
{
    url_parts_t u;
    if (out == NULL || out_len == 0) {
        return false;
    }
    out[0] = '\0';
    if (!url_parse(base, &u, NULL, 0) || !url_camera_id_valid(camera_id)) {
        return false;
    }
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/') {
        bl--;
    }
    int n = snprintf(out, out_len, "%.*s/%s", (int)bl, base, camera_id);
    if (n < 0 || (size_t)n >= out_len) {
        out[0] = '\0';
        return false;
    }
    return true;
}

void url_default_camera_id(const uint8_t mac[6], char *out, size_t out_len)
{
    if (out == NULL || out_len == 0) {
        return;
    }
    snprintf(out, out_len, "atoms3r-%02x%02x%02x", mac[3], mac[4], mac[5]);
}

bool url_is_tls(const char *url)
{
    url_parts_t u;
    return url_parse(url, &u, NULL, 0) && u.tls;
}
