/*
 * Console commands. Arguments are taken from argv directly (no argtable3 options) because a
 * Wi-Fi password or token may well start with '-'. Quote values with spaces:
 *   wifi "My Network" "my pass phrase"
 * (esp_console's splitter: \" \\ and "\ " are escapes; "" is an empty argument).
 */
#include "console_cmds.h"

#include <inttypes.h>
#include <stdio.h>
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
#include "sdkconfig.h"
#include "settings.h"
#include "storage.h"
#include "stream.h"
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
        return usage(argv[0], "ws://HOST:PORT[/CAMERA_ID] | --clear");
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
                 "[ws://HOST:PORT[/ID] | --clear]", cmd_server);
    register_cmd("camera", "Set the camera id, 1-64 of A-Z a-z 0-9 _ - (saved; --auto: from the MAC)",
                 "[<id> | --auto]", cmd_camera);
    register_cmd("token", "Set the server token, sent as 'Authorization: Bearer' (saved)", "[<token> | --clear]",
                 cmd_token);
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
