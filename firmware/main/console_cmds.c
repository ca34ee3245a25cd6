/*
 * Console commands. Arguments are taken from argv directly (no argtable3 options) because a
 * Wi-Fi password or token may well start with '-'. Quote values with spaces:
 *   wifi "My Network" "my pass phrase"
 * (esp_console's splitter: \" \\ and "\ " are escapes; "" is an empty argument).
 */
#include "console_cmds.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_settings.h"
#include "board.h"
#include "camera.h"
#include "esp_console.h"
#include "esp_heap_caps.h"
#include "esp_log.h"
#include "esp_system.h"
#include "esp_timer.h"
#include "framesize.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "linenoise/linenoise.h"
#include "mbedtls/sha256.h"
#include "mbedtls/x509_crt.h"
#include "pem.h"
#include "sdkconfig.h"
#include "settings.h"
#include "storage.h"
#include "stream.h"
#include "trust.h"
#include "url.h"
#include "version.h"
#include "wifi.h"

static const char *TAG = "console";

static int usage(const char *cmd, const char *args)
{
    printf("usage: %s %s\n", cmd, args);
    return 1;
}

static void show_setting(setting_id_t id)
{
    settings_t s;
    char value[SETTINGS_VALUE_MAX + 1];
    app_settings_get(&s);
    settings_format(&s, id, true, value, sizeof(value));
    printf("%s = %s\n", settings_info(id)->name, value[0] ? value : "(not set)");
}

/* Sets one setting from a console argument and reports the result. */
static int set_and_report(setting_id_t id, const char *value)
{
    char err[400];
    if (!app_settings_set(id, value, err, sizeof(err))) {
        printf("refused: %s\n", err);
        return 1;
    }
    show_setting(id);
    return 0;
}

static void print_stream_url(const settings_t *s)
{
    char id[CAMERA_ID_MAX_LEN + 1];
    char url[URL_MAX_LEN + CAMERA_ID_MAX_LEN + 2];
    app_settings_camera_id(s, id, sizeof(id));
    if (s->server[0] && url_build_stream(s->server, id, url, sizeof(url))) {
        printf("stream URL: %s\n", url);
    } else {
        printf("stream URL: (set the server with: server ws://HOST:8765)\n");
    }
}

/* ---------------------------------------------------------------- wifi / server / camera / token */

static int cmd_wifi(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        return usage(argv[0], "<ssid> [<password>]   (omit the password for an open network)");
    }
    settings_t t;
    char err[400];
    app_settings_get(&t);
    if (!settings_set(&t, SETTING_SSID, argv[1], err, sizeof(err)) ||
        !settings_set(&t, SETTING_PASSWORD, argc == 3 ? argv[2] : "", err, sizeof(err))) {
        printf("refused: %s\n", err);
        return 1;
    }
    app_settings_update(&t, SETTINGS_WIFI_BITS);
    wifi_reconfigure();
    printf("Wi-Fi set to \"%s\"%s; connecting (see 'status').\n", t.ssid, t.password[0] ? "" : " (open network)");
    return 0;
}

static int cmd_server(int argc, char **argv)
{
    if (argc == 1) {
        settings_t s;
        app_settings_get(&s);
        show_setting(SETTING_SERVER);
        print_stream_url(&s);
        return 0;
    }
    if (argc != 2) {
        return usage(argv[0], "ws://HOST:PORT[/CAMERA_ID] | wss://HOST[:PORT][/CAMERA_ID] | --clear");
    }
    const char *value = strcmp(argv[1], "--clear") == 0 ? "" : argv[1];
    settings_t t;
    char err[400];
    app_settings_get(&t);
    if (!settings_set_server_input(&t, value, err, sizeof(err))) {
        printf("refused: %s\n", err);
        return 1;
    }
    app_settings_update(&t, SETTING_BIT(SETTING_SERVER) | SETTING_BIT(SETTING_CAMERA_ID));
    show_setting(SETTING_SERVER);
    url_parts_t u;
    if (t.server[0] && url_parse(t.server, &u, NULL, 0) && !u.port_given) {
        printf("note: no port given, so port %u is used; the camera server listens on %d by default.\n", u.port,
               URL_DEFAULT_SERVER_PORT);
    }
    print_stream_url(&t);
    return 0;
}

static int cmd_camera(int argc, char **argv)
{
    if (argc == 1) {
        settings_t s;
        char id[CAMERA_ID_MAX_LEN + 1];
        app_settings_get(&s);
        app_settings_camera_id(&s, id, sizeof(id));
        printf("camera_id = %s%s\n", id, s.camera_id[0] ? "" : " (automatic)");
        return 0;
    }
    if (argc != 2) {
        return usage(argv[0], "<id> | --auto   (id: 1-64 characters from A-Z a-z 0-9 _ -)");
    }
    int rc = set_and_report(SETTING_CAMERA_ID, strcmp(argv[1], "--auto") == 0 ? "" : argv[1]);
    if (rc == 0) {
        settings_t s;
        app_settings_get(&s);
        print_stream_url(&s);
    }
    return rc;
}

static int cmd_token(int argc, char **argv)
{
    if (argc == 1) {
        show_setting(SETTING_TOKEN);
        return 0;
    }
    if (argc != 2) {
        return usage(argv[0], "<token> | --clear");
    }
    return set_and_report(SETTING_TOKEN, strcmp(argv[1], "--clear") == 0 ? "" : argv[1]);
}

/* ---------------------------------------------------------------- cacert: what wss:// trusts */

typedef struct {
    char *pem;          /* PEM_MAX_LEN + 1 bytes, NUL-terminated; free() it */
    size_t len;         /* 0: none stored */
    pem_info_t info;
    bool valid;
    char why[PEM_ERR_MAX + 1];
} stored_ca_t;

/* Reads the stored CA set (4 KB: on the heap, not on the console task's stack). */
static bool load_stored_ca(stored_ca_t *ca)
{
    memset(ca, 0, sizeof(*ca));
    ca->pem = malloc(PEM_MAX_LEN + 1);
    if (ca->pem == NULL) {
        printf("out of memory\n");
        return false;
    }
    esp_err_t err = storage_load_cacert(ca->pem, PEM_MAX_LEN + 1, &ca->len);
    if (err != ESP_OK) {
        snprintf(ca->why, sizeof(ca->why), "cannot be read (%s)", esp_err_to_name(err));
        ca->len = 1; /* something is stored, but not usable */
        return true;
    }
    ca->valid = ca->len > 0 && pem_validate(ca->pem, ca->len, &ca->info, ca->why, sizeof(ca->why));
    return true;
}

/*
 * Lets mbedTLS parse the set, as esp-tls will at every wss:// connection, and with print shows
 * each certificate: subject, SHA-256 fingerprint (compare with
 * `openssl x509 -noout -fingerprint -sha256 -in cert.pem`) and end of validity. Never the PEM.
 */
static bool check_with_mbedtls(const char *pem, size_t len, bool print)
{
    mbedtls_x509_crt chain;
    mbedtls_x509_crt_init(&chain);
    int ret = mbedtls_x509_crt_parse(&chain, (const unsigned char *)pem, len + 1); /* + the NUL */
    if (ret != 0) {
        printf("refused: mbedTLS cannot parse %s (%s%x)\n", ret > 0 ? "every certificate" : "the certificates",
               ret < 0 ? "-0x" : "failed: ", (unsigned)(ret < 0 ? -ret : ret));
        mbedtls_x509_crt_free(&chain);
        return false;
    }
    int i = 0;
    for (const mbedtls_x509_crt *c = &chain; print && c != NULL && c->raw.len > 0; c = c->next) {
        char subject[128];
        unsigned char digest[32];
        if (mbedtls_x509_dn_gets(subject, sizeof(subject), &c->subject) < 0) {
            snprintf(subject, sizeof(subject), "(unreadable)");
        }
        mbedtls_sha256(c->raw.p, c->raw.len, digest, 0);
        printf("  #%d %s, valid until %04d-%02d-%02d\n     SHA-256 ", ++i, subject, c->valid_to.year,
               c->valid_to.mon, c->valid_to.day);
        for (size_t k = 0; k < sizeof(digest); k++) {
            printf("%02X%s", digest[k], k + 1 < sizeof(digest) ? ":" : "\n");
        }
    }
    mbedtls_x509_crt_free(&chain);
    return true;
}

static void print_trust(const stored_ca_t *ca)
{
    settings_t s;
    app_settings_get(&s);
    bool tls = url_is_tls(s.server);
    if (ca->len == 0) {
        printf("no CA certificate stored: wss:// trusts %s\n", trust_mode_name(TRUST_BUNDLE));
    } else if (!ca->valid) {
        printf("the stored CA certificate is invalid (%s): wss:// will not connect;\n"
               "use 'cacert set' or 'cacert clear'\n", ca->why);
    } else {
        printf("%d CA certificate%s, %u bytes: wss:// trusts only %s\n", ca->info.certs,
               ca->info.certs == 1 ? "" : "s", (unsigned)ca->info.len, ca->info.certs == 1 ? "it" : "them");
        check_with_mbedtls(ca->pem, ca->len, true);
    }
    if (!tls) {
        printf("(the server URL is %s: no TLS, so none of this is used)\n", s.server[0] ? "ws://" : "not set");
    }
}

static int cacert_paste(bool add, int count)
{
    stored_ca_t ca = {0};
    pem_paste_t *p = calloc(1, sizeof(*p));
    int rc = 1;
    if (p == NULL || (add && !load_stored_ca(&ca))) {
        printf("out of memory\n");
        goto done;
    }
    if (add && (ca.len == 0 || !ca.valid)) {
        printf("refused: %s; use 'cacert set'\n", ca.len == 0 ? "no CA certificate stored yet" : ca.why);
        goto done;
    }
    if (!pem_paste_init(p, add ? ca.pem : NULL, add ? ca.len : 0, count)) {
        printf("refused: %s\n", p->err);
        goto done;
    }
    printf("Paste %d certificate%s in PEM form (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----).\n"
           "It ends by itself after the last END line; Ctrl-C or 'abort' cancels.\n",
           count, count == 1 ? "" : "s");
    pem_paste_status_t st = PEM_PASTE_MORE;
    while (st == PEM_PASTE_MORE) {
        char *line = linenoise("cacert> ");
        if (line == NULL) { /* Ctrl-C, or the console went away */
            st = PEM_PASTE_ABORTED;
            break;
        }
        st = pem_paste_line(p, line);
        linenoiseFree(line);
    }
    if (st == PEM_PASTE_ABORTED) {
        printf("aborted; nothing changed\n");
    } else if (st == PEM_PASTE_FAILED) {
        printf("refused: %s; nothing changed\n", p->err);
    } else if (!check_with_mbedtls(p->text, p->len, false)) {
        printf("nothing changed\n");
    } else if (!app_settings_set_cacert(p->text, p->len)) {
        printf("storing it failed; nothing changed\n");
    } else {
        printf("stored. ");
        stored_ca_t now;
        if (load_stored_ca(&now)) {
            print_trust(&now);
            free(now.pem);
        }
        ESP_LOGI(TAG, "CA certificate set: %d certificate(s), %u bytes", p->info.certs, (unsigned)p->len);
        rc = 0;
    }
done:
    free(ca.pem);
    free(p);
    return rc;
}

static int cmd_cacert(int argc, char **argv)
{
    const char *sub = argc >= 2 ? argv[1] : "show";
    if (strcmp(sub, "show") == 0 && argc <= 2) {
        stored_ca_t ca;
        if (!load_stored_ca(&ca)) {
            return 1;
        }
        print_trust(&ca);
        free(ca.pem);
        return 0;
    }
    if (strcmp(sub, "set") == 0 && argc <= 3) {
        int count = 1;
        if (argc == 3 && !settings_parse_int(argv[2], 1, PEM_MAX_CERTS, &count)) {
            printf("refused: the number of certificates must be 1-%d\n", PEM_MAX_CERTS);
            return 1;
        }
        return cacert_paste(false, count);
    }
    if (strcmp(sub, "add") == 0 && argc == 2) {
        return cacert_paste(true, 1);
    }
    if (strcmp(sub, "clear") == 0 && argc == 2) {
        if (!app_settings_set_cacert(NULL, 0)) {
            printf("erasing it failed\n");
            return 1;
        }
        printf("CA certificate erased: wss:// trusts %s\n", trust_mode_name(TRUST_BUNDLE));
        ESP_LOGI(TAG, "CA certificate cleared");
        return 0;
    }
    return usage(argv[0], "[show] | set [<count>] | add | clear\n"
                          "  set: paste the server's certificate (self-signed) or its CA in PEM form;\n"
                          "  clear: trust the public CAs (ESP-IDF certificate bundle) again");
}

/* ---------------------------------------------------------------- camera settings */

static int cmd_framesize(int argc, char **argv)
{
    char names[256];
    framesize_list(names, sizeof(names));
    if (argc == 1) {
        cam_info_t cam;
        camera_get_info(&cam);
        show_setting(SETTING_FRAMESIZE);
        if (cam.ready) {
            const framesize_info_t *fi = framesize_info(cam.framesize);
            printf("in use: %s (%ux%u); %s supports up to %s\n", fi->name, fi->width, fi->height,
                   board_sensor_name(cam.sensor), framesize_name(framesize_max_for_sensor(cam.sensor)));
        }
        printf("sizes: %s\n", names);
        return 0;
    }
    if (argc != 2) {
        return usage(argv[0], "<name>   e.g. QVGA, VGA, SVGA, HD, UXGA, or 640x480");
    }
    int fs = framesize_parse(argv[1]);
    if (fs < 0) {
        printf("refused: unknown frame size; allowed: %s\n", names);
        return 1;
    }
    cam_info_t cam;
    camera_get_info(&cam);
    if (cam.ready && !framesize_supported(cam.sensor, fs)) {
        char why[80];
        framesize_limit_message(cam.sensor, why, sizeof(why));
        printf("refused: %s\n", why);
        return 1;
    }
    return set_and_report(SETTING_FRAMESIZE, argv[1]);
}

static int cmd_quality(int argc, char **argv)
{
    if (argc == 1) {
        show_setting(SETTING_QUALITY);
        return 0;
    }
    if (argc != 2) {
        return usage(argv[0], "<1-100>   (higher is better; larger frames)");
    }
    return set_and_report(SETTING_QUALITY, argv[1]);
}

static int cmd_fps(int argc, char **argv)
{
    if (argc == 1) {
        show_setting(SETTING_FPS);
        return 0;
    }
    if (argc != 2) {
        return usage(argv[0], "<1-30>");
    }
    return set_and_report(SETTING_FPS, argv[1]);
}

static int toggle(setting_id_t id, int argc, char **argv)
{
    if (argc > 2) {
        return usage(argv[0], "[on|off]   (no argument: toggle)");
    }
    if (argc == 2) {
        return set_and_report(id, argv[1]);
    }
    settings_t s;
    app_settings_get(&s);
    bool now = id == SETTING_VFLIP ? s.vflip : s.hmirror;
    return set_and_report(id, now ? "off" : "on");
}

static int cmd_flip(int argc, char **argv)
{
    return toggle(SETTING_VFLIP, argc, argv);
}

static int cmd_mirror(int argc, char **argv)
{
    return toggle(SETTING_HMIRROR, argc, argv);
}

/* ---------------------------------------------------------------- config / status */

static int cmd_config(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    settings_t s;
    app_settings_get(&s);
    for (int i = 0; i < SETTING_COUNT; i++) {
        char value[SETTINGS_VALUE_MAX + 1];
        settings_format(&s, (setting_id_t)i, true, value, sizeof(value));
        if (i == SETTING_CAMERA_ID && value[0] == '\0') {
            app_settings_camera_id(&s, value, sizeof(value));
            strncat(value, " (automatic)", sizeof(value) - strlen(value) - 1);
        }
        printf("  %-10s %s\n", settings_info((setting_id_t)i)->name, value[0] ? value : "(not set)");
    }
    stored_ca_t ca;
    if (load_stored_ca(&ca)) {
        if (ca.len == 0) {
            printf("  %-10s (not set: wss:// trusts the public CAs)\n", "cacert");
        } else if (ca.valid) {
            printf("  %-10s %d certificate%s, %u bytes (see 'cacert show')\n", "cacert", ca.info.certs,
                   ca.info.certs == 1 ? "" : "s", (unsigned)ca.info.len);
        } else {
            printf("  %-10s invalid: %s\n", "cacert", ca.why);
        }
        free(ca.pem);
    }
    print_stream_url(&s);
    return 0;
}

static int cmd_status(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    wifi_status_t w;
    stream_status_t st;
    cam_info_t cam;
    settings_t s;
    wifi_get_status(&w);
    stream_get_status(&st);
    camera_get_info(&cam);
    app_settings_get(&s);

    printf("firmware  %s, up %" PRId64 " s\n", FIRMWARE_VERSION, esp_timer_get_time() / 1000000);
    if (s.ssid[0] == '\0') {
        printf("wifi      not configured (wifi <ssid> <password>)\n");
    } else if (w.connected) {
        printf("wifi      connected to \"%s\", IP %s, RSSI %d dBm, %" PRIu32 " disconnects\n", w.ssid, w.ip, w.rssi,
               w.disconnects);
    } else {
        printf("wifi      connecting to \"%s\"%s%s\n", w.ssid, w.last_reason ? ": last error: " : "",
               w.last_reason ? w.last_reason_text : "");
    }
    if (!st.configured) {
        printf("server    not configured (server ws://HOST:8765)\n");
    } else {
        printf("server    %s %s, %" PRIu32 " connects\n", st.connected ? "connected to" : "connecting to", st.url,
               st.connects);
        if (!st.connected && st.last_error[0]) {
            printf("          last error: %s\n", st.last_error);
        }
        if (!url_is_tls(s.server)) {
            printf("tls       off (ws://)\n");
        } else if (st.trust != TRUST_PLAIN) {
            printf("tls       on (wss://), trusting %s", trust_mode_name(st.trust));
            if (st.trust == TRUST_CUSTOM) {
                printf(": %d certificate%s", st.ca_certs, st.ca_certs == 1 ? "" : "s");
            }
            printf("\n");
        } else {
            printf("tls       on (wss://), not started: see the last error and 'cacert show'\n");
        }
    }
    if (cam.ready) {
        const framesize_info_t *fi = framesize_info(cam.framesize);
        printf("camera    %s (%s), %s %ux%u, %s\n", board_sensor_name(cam.sensor), board_name(cam.sensor),
               fi ? fi->name : "?", fi ? fi->width : 0, fi ? fi->height : 0,
               cam.hw_jpeg ? "hardware JPEG" : "software JPEG");
    } else {
        printf("camera    not ready (%" PRIu32 " restarts so far)\n", cam.restarts);
    }
    printf("frames    %" PRIu32 ".%02" PRIu32 " fps of %" PRIu32 " target, last %" PRIu32 " bytes", st.fps_x100 / 100,
           st.fps_x100 % 100, st.target_fps, st.last_frame_bytes);
    if (st.last_frame_age_ms >= 0) {
        printf(" %" PRId64 " ms ago", st.last_frame_age_ms);
    }
    printf("\n          %" PRIu32 " sent, %" PRIu32 " dropped (%" PRIu32 " send failures, %" PRIu32
           " capture, %" PRIu32 " encode)\n",
           st.frames_sent, st.frames_dropped, st.send_failures, cam.capture_failures, cam.encode_failures);
    if (!cam.hw_jpeg && cam.ready) {
        printf("          software encoding takes %" PRIu32 " ms per frame\n", cam.last_encode_ms);
    }
    printf("memory    heap %u free (min %u), internal %u, PSRAM %u free\n",
           (unsigned)esp_get_free_heap_size(), (unsigned)esp_get_minimum_free_heap_size(),
           (unsigned)heap_caps_get_free_size(MALLOC_CAP_INTERNAL), (unsigned)heap_caps_get_free_size(MALLOC_CAP_SPIRAM));
    return 0;
}

/* ---------------------------------------------------------------- system */

static int cmd_restart(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("restarting...\n");
    fflush(stdout);
    vTaskDelay(pdMS_TO_TICKS(100));
    esp_restart();
    return 0;
}

static int cmd_factory_reset(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    esp_err_t err = storage_erase();
    if (err != ESP_OK) {
        printf("erasing the settings failed: %s\n", esp_err_to_name(err));
        return 1;
    }
    printf("settings erased (back to the built-in defaults); restarting...\n");
    fflush(stdout);
    vTaskDelay(pdMS_TO_TICKS(100));
    esp_restart();
    return 0;
}

static int cmd_log(int argc, char **argv)
{
    static const struct {
        const char *name;
        esp_log_level_t level;
    } levels[] = {
        {"none", ESP_LOG_NONE}, {"error", ESP_LOG_ERROR}, {"warn", ESP_LOG_WARN},
        {"info", ESP_LOG_INFO}, {"debug", ESP_LOG_DEBUG}, {"verbose", ESP_LOG_VERBOSE},
    };
    if (argc == 2) {
        for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
            if (strcmp(argv[1], levels[i].name) == 0) {
                esp_log_level_set("*", levels[i].level);
                printf("log level: %s\n", levels[i].name);
                return 0;
            }
        }
    }
    return usage(argv[0], "none|error|warn|info|debug|verbose   (not saved)");
}

static void register_cmd(const char *name, const char *help, const char *hint, esp_console_cmd_func_t func)
{
    const esp_console_cmd_t cmd = {
        .command = name,
        .help = help,
        .hint = hint,
        .func = func,
    };
    ESP_ERROR_CHECK(esp_console_cmd_register(&cmd));
}

void console_start(void)
{
    esp_console_repl_t *repl = NULL;
    esp_console_repl_config_t repl_config = ESP_CONSOLE_REPL_CONFIG_DEFAULT();
    repl_config.prompt = "camstream>";
    repl_config.task_stack_size = 6144; /* status formats a lot */
    repl_config.max_cmdline_length = 512;

    esp_console_register_help_command();
    register_cmd("wifi", "Set the Wi-Fi network (saved). Quote names with spaces.", "<ssid> [<password>]", cmd_wifi);
    register_cmd("server", "Set the camera server URL (saved). A path sets the camera id: ws://HOST:8765/kitchen",
                 "[ws://HOST:PORT[/ID] | wss://HOST:PORT[/ID] | --clear]", cmd_server);
    register_cmd("camera", "Set the camera id, 1-64 of A-Z a-z 0-9 _ - (saved; --auto: from the MAC)",
                 "[<id> | --auto]", cmd_camera);
    register_cmd("token", "Set the server token, sent as 'Authorization: Bearer' (saved)", "[<token> | --clear]",
                 cmd_token);
    register_cmd("cacert", "What wss:// trusts: no argument shows it; 'set' pastes the server's (or its CA's) "
                 "PEM certificate; 'clear' goes back to the public CAs (saved)",
                 "[show | set [<count>] | add | clear]", cmd_cacert);
    register_cmd("framesize", "Set the frame size (saved); no argument lists the sizes", "[<name>]", cmd_framesize);
    register_cmd("quality", "Set the JPEG quality 1-100, higher is better (saved)", "[<1-100>]", cmd_quality);
    register_cmd("fps", "Set the frame rate limit 1-30 (saved)", "[<1-30>]", cmd_fps);
    register_cmd("flip", "Flip the image vertically (saved); no argument toggles", "[on|off]", cmd_flip);
    register_cmd("mirror", "Mirror the image horizontally (saved); no argument toggles", "[on|off]", cmd_mirror);
    register_cmd("config", "Show all settings (secrets masked)", NULL, cmd_config);
    register_cmd("status", "Show Wi-Fi, server, camera, frame rate and memory", NULL, cmd_status);
    register_cmd("log", "Set the log level of this session", "none|error|warn|info|debug|verbose", cmd_log);
    register_cmd("restart", "Restart the device", NULL, cmd_restart);
    register_cmd("factory_reset", "Erase all saved settings and restart", NULL, cmd_factory_reset);

    /* The REPL needs an input-capable console: USB-Serial-JTAG on this board
     * (CONFIG_ESP_CONSOLE_USB_SERIAL_JTAG). The UART branch is for other boards/configs. */
#if defined(CONFIG_ESP_CONSOLE_USB_SERIAL_JTAG)
    esp_console_dev_usb_serial_jtag_config_t hw_config = ESP_CONSOLE_DEV_USB_SERIAL_JTAG_CONFIG_DEFAULT();
    ESP_ERROR_CHECK(esp_console_new_repl_usb_serial_jtag(&hw_config, &repl_config, &repl));
#elif defined(CONFIG_ESP_CONSOLE_UART_DEFAULT) || defined(CONFIG_ESP_CONSOLE_UART_CUSTOM)
    esp_console_dev_uart_config_t hw_config = ESP_CONSOLE_DEV_UART_CONFIG_DEFAULT();
    ESP_ERROR_CHECK(esp_console_new_repl_uart(&hw_config, &repl_config, &repl));
#elif defined(CONFIG_ESP_CONSOLE_USB_CDC)
    esp_console_dev_usb_cdc_config_t hw_config = ESP_CONSOLE_DEV_CDC_CONFIG_DEFAULT();
    ESP_ERROR_CHECK(esp_console_new_repl_usb_cdc(&hw_config, &repl_config, &repl));
#else
#error "No console with input selected: set CONFIG_ESP_CONSOLE_USB_SERIAL_JTAG=y (see sdkconfig.defaults)"
#endif
    ESP_ERROR_CHECK(esp_console_start_repl(repl));
    ESP_LOGI(TAG, "console ready: type 'help'");
}
