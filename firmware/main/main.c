/*
 * AtomS3R-CAM / AtomS3R-M12 camera streamer.
 *
 * Boot order: camera power first (GPIO18 low, the camera needs >= 500 ms before init, and the
 * M12's IMU wants it early), then NVS + settings, the USB console (so the device can always be
 * configured), Wi-Fi, and the streaming task, which brings the camera up once the power-up
 * delay has passed and sends JPEG frames to ws://HOST:PORT/<camera_id>.
 */
#include <stdio.h>

#include "app_settings.h"
#include "camera.h"
#include "console_cmds.h"
#include "esp_log.h"
#include "storage.h"
#include "stream.h"
#include "version.h"
#include "wifi.h"

static const char *TAG = "main";

void app_main(void)
{
    camera_power_on();
    ESP_LOGI(TAG, "AtomS3R camera streamer %s", FIRMWARE_VERSION);

    ESP_ERROR_CHECK(storage_init());
    app_settings_init();

    console_start();
    wifi_start();
    stream_start();

    settings_t s;
    app_settings_get(&s);
    if (s.ssid[0] == '\0' || s.server[0] == '\0') {
        printf("\nNot configured yet. On this console type:\n"
               "  wifi <ssid> <password>\n"
               "  server ws://<server-ip>:8765\n"
               "  camera <name>        (optional)\n"
               "then 'status'. 'help' lists every command.\n\n");
    }
}
