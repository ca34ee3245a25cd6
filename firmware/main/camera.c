#include "camera.h"

#include <string.h>

#include "driver/gpio.h"
#include "esp_camera.h"
#include "esp_heap_caps.h"
#include "esp_log.h"
#include "esp_timer.h"
#include "framesize.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "jpegbuf.h"
#include "quality.h"
#include "sdkconfig.h"

static const char *TAG = "camera";

/* AtomS3R-CAM and AtomS3R-M12 share these pins (M5Stack camera_pin.h; D0..D7 = Y2..Y9). */
#define CAM_PIN_POWER 18   /* POWER_N: P-MOSFET gate, LOW = camera powered. Not PWDN! */
#define CAM_PIN_PWDN -1    /* not wired to a GPIO; passing 18 here would cut the power */
#define CAM_PIN_RESET -1   /* supervisor chip */
#define CAM_PIN_XCLK 21
#define CAM_PIN_SIOD 12
#define CAM_PIN_SIOC 9
#define CAM_PIN_D0 3
#define CAM_PIN_D1 42
#define CAM_PIN_D2 46
#define CAM_PIN_D3 48
#define CAM_PIN_D4 4
#define CAM_PIN_D5 17
#define CAM_PIN_D6 11
#define CAM_PIN_D7 13
#define CAM_PIN_VSYNC 10
#define CAM_PIN_HREF 14
#define CAM_PIN_PCLK 40
#define CAM_XCLK_HZ 20000000

/* Software JPEG output limit: the server accepts up to 2 MiB per message. */
#define JPEG_MAX_BYTES (2 * 1024 * 1024)

/* The portable tables must match esp32-camera's enums. */
_Static_assert((int)BOARD_PID_GC0308 == (int)GC0308_PID, "GC0308 PID");
_Static_assert((int)BOARD_PID_OV3660 == (int)OV3660_PID, "OV3660 PID");
_Static_assert((int)FS_96X96 == (int)FRAMESIZE_96X96, "framesize order");
_Static_assert((int)FS_QQVGA == (int)FRAMESIZE_QQVGA, "framesize order");
_Static_assert((int)FS_128X128 == (int)FRAMESIZE_128X128, "framesize order");
_Static_assert((int)FS_QCIF == (int)FRAMESIZE_QCIF, "framesize order");
_Static_assert((int)FS_HQVGA == (int)FRAMESIZE_HQVGA, "framesize order");
_Static_assert((int)FS_240X240 == (int)FRAMESIZE_240X240, "framesize order");
_Static_assert((int)FS_QVGA == (int)FRAMESIZE_QVGA, "framesize order");
_Static_assert((int)FS_320X320 == (int)FRAMESIZE_320X320, "framesize order");
_Static_assert((int)FS_CIF == (int)FRAMESIZE_CIF, "framesize order");
_Static_assert((int)FS_HVGA == (int)FRAMESIZE_HVGA, "framesize order");
_Static_assert((int)FS_VGA == (int)FRAMESIZE_VGA, "framesize order");
_Static_assert((int)FS_SVGA == (int)FRAMESIZE_SVGA, "framesize order");
_Static_assert((int)FS_XGA == (int)FRAMESIZE_XGA, "framesize order");
_Static_assert((int)FS_HD == (int)FRAMESIZE_HD, "framesize order");
_Static_assert((int)FS_SXGA == (int)FRAMESIZE_SXGA, "framesize order");
_Static_assert((int)FS_UXGA == (int)FRAMESIZE_UXGA, "framesize order");
_Static_assert((int)FS_FHD == (int)FRAMESIZE_FHD, "framesize order");
_Static_assert((int)FS_P_HD == (int)FRAMESIZE_P_HD, "framesize order");
_Static_assert((int)FS_P_3MP == (int)FRAMESIZE_P_3MP, "framesize order");
_Static_assert((int)FS_QXGA == (int)FRAMESIZE_QXGA, "framesize order");

static int64_t s_power_on_us;
static bool s_initialized;
static bool s_hw_jpeg;          /* driver runs in PIXFORMAT_JPEG */
static int s_alloc_fs = -1;     /* frame size the buffers were allocated for */
static int s_quality = 80;      /* user scale, for the software encoder */
static jpegbuf_t s_jpeg;
static portMUX_TYPE s_mux = portMUX_INITIALIZER_UNLOCKED;
static cam_info_t s_info;       /* guarded by s_mux */

static void *psram_realloc(void *ptr, size_t size, void *ctx)
{
    (void)ctx;
    void *p = heap_caps_realloc(ptr, size, MALLOC_CAP_SPIRAM | MALLOC_CAP_8BIT);
    return p ? p : heap_caps_realloc(ptr, size, MALLOC_CAP_8BIT);
}

static void psram_free(void *ptr, void *ctx)
{
    (void)ctx;
    heap_caps_free(ptr);
}

void camera_power_on(void)
{
    const gpio_config_t io = {
        .pin_bit_mask = 1ULL << CAM_PIN_POWER,
        .mode = GPIO_MODE_OUTPUT,
        .pull_up_en = GPIO_PULLUP_DISABLE,
        .pull_down_en = GPIO_PULLDOWN_ENABLE,
        .intr_type = GPIO_INTR_DISABLE,
    };
    gpio_config(&io);
    gpio_set_level(CAM_PIN_POWER, 0); /* active low: camera on */
    s_power_on_us = esp_timer_get_time();
    ESP_LOGI(TAG, "camera power on (GPIO%d low)", CAM_PIN_POWER);
}

static void power_off(void)
{
    gpio_set_level(CAM_PIN_POWER, 1);
}

static void wait_power_stable(void)
{
    int64_t ready_at = s_power_on_us + (int64_t)CONFIG_CAMSTREAM_POWER_ON_DELAY_MS * 1000;
    int64_t now = esp_timer_get_time();
    if (now < ready_at) {
        vTaskDelay(pdMS_TO_TICKS((ready_at - now) / 1000 + 1));
    }
}

static camera_config_t make_config(int fs, pixformat_t format, int user_quality)
{
    bool jpeg = format == PIXFORMAT_JPEG;
    camera_config_t c = {
        .pin_pwdn = CAM_PIN_PWDN,
        .pin_reset = CAM_PIN_RESET,
        .pin_xclk = CAM_PIN_XCLK,
        .pin_sccb_sda = CAM_PIN_SIOD,
        .pin_sccb_scl = CAM_PIN_SIOC,
        .pin_d7 = CAM_PIN_D7,
        .pin_d6 = CAM_PIN_D6,
        .pin_d5 = CAM_PIN_D5,
        .pin_d4 = CAM_PIN_D4,
        .pin_d3 = CAM_PIN_D3,
        .pin_d2 = CAM_PIN_D2,
        .pin_d1 = CAM_PIN_D1,
        .pin_d0 = CAM_PIN_D0,
        .pin_vsync = CAM_PIN_VSYNC,
        .pin_href = CAM_PIN_HREF,
        .pin_pclk = CAM_PIN_PCLK,
        .xclk_freq_hz = CAM_XCLK_HZ,
        .ledc_timer = LEDC_TIMER_0,
        .ledc_channel = LEDC_CHANNEL_0,
        .pixel_format = format,
        .frame_size = (framesize_t)fs,
        .jpeg_quality = quality_to_ov3660(user_quality), /* 0-63, lower is better; JPEG only */
        /* JPEG: two buffers, always the newest frame (lowest latency, old frames dropped).
         * RGB565: one buffer; the driver README reserves continuous capture for JPEG. */
        .fb_count = jpeg ? 2 : 1,
        .fb_location = CAMERA_FB_IN_PSRAM,
        .grab_mode = jpeg ? CAMERA_GRAB_LATEST : CAMERA_GRAB_WHEN_EMPTY,
    };
    return c;
}

static void set_info_ready(bool ready)
{
    portENTER_CRITICAL(&s_mux);
    s_info.ready = ready;
    portEXIT_CRITICAL(&s_mux);
}

/* Sensor-side settings that need no re-init. */
static void apply_sensor_controls(const settings_t *s)
{
    sensor_t *sensor = esp_camera_sensor_get();
    if (sensor == NULL) {
        return;
    }
    s_quality = s->quality;
    if (s_hw_jpeg && sensor->set_quality) {
        sensor->set_quality(sensor, quality_to_ov3660(s->quality));
    }
    if (sensor->set_vflip) {
        sensor->set_vflip(sensor, s->vflip ? 1 : 0);
    }
    if (sensor->set_hmirror) {
        sensor->set_hmirror(sensor, s->hmirror ? 1 : 0);
    }
}

/* esp_camera_init with one pixel format; updates the state on success. */
static esp_err_t init_driver(int fs, pixformat_t format, int user_quality)
{
    camera_config_t cfg = make_config(fs, format, user_quality);
    esp_err_t err = esp_camera_init(&cfg);
    if (err != ESP_OK) {
        return err; /* the driver has already cleaned up after itself */
    }
    s_initialized = true;
    s_hw_jpeg = format == PIXFORMAT_JPEG;
    s_alloc_fs = fs;
    return ESP_OK;
}

static esp_err_t detect_and_init(const settings_t *s)
{
    int fs = s->framesize;
    /* Try the sensor's JPEG first: the OV3660 has it. The GC0308 has not: the driver logs
     * "JPEG format is not supported on this sensor", returns ESP_ERR_NOT_SUPPORTED and
     * deinitialises itself, so RGB565 can be tried straight away. */
    esp_err_t err = init_driver(fs, PIXFORMAT_JPEG, s->quality);
    if (err == ESP_ERR_NOT_SUPPORTED) {
        ESP_LOGI(TAG, "sensor has no JPEG encoder: capturing RGB565 and encoding in software");
        if (!framesize_supported(BOARD_SENSOR_GC0308, fs)) {
            ESP_LOGW(TAG, "frame size %s is too large for the GC0308, using %s", framesize_name(fs),
                     framesize_name(framesize_max_for_sensor(BOARD_SENSOR_GC0308)));
            fs = framesize_max_for_sensor(BOARD_SENSOR_GC0308);
        }
        err = init_driver(fs, PIXFORMAT_RGB565, s->quality);
    }
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "esp_camera_init failed: %s (0x%x)", esp_err_to_name(err), err);
        return err;
    }
    sensor_t *sensor = esp_camera_sensor_get();
    uint16_t pid = sensor ? sensor->id.PID : 0;
    board_sensor_t kind = board_sensor_from_pid(pid);
    int max = framesize_max_for_sensor(kind);
    if (fs > max) {
        fs = max; /* the driver clamps too; keep our bookkeeping in step */
        s_alloc_fs = fs;
    }
    apply_sensor_controls(s);
    portENTER_CRITICAL(&s_mux);
    s_info.sensor = kind;
    s_info.pid = pid;
    s_info.hw_jpeg = s_hw_jpeg;
    s_info.framesize = fs;
    portEXIT_CRITICAL(&s_mux);
    set_info_ready(true);
    ESP_LOGI(TAG, "%s on %s (PID 0x%x), %s %s", board_sensor_name(kind), board_name(kind), pid,
             framesize_name(fs), s_hw_jpeg ? "hardware JPEG" : "RGB565 + software JPEG");
    return ESP_OK;
}

esp_err_t camera_start(const settings_t *s)
{
    if (s_jpeg.max == 0) {
        jpegbuf_init(&s_jpeg, JPEG_MAX_BYTES, psram_realloc, psram_free, NULL);
    }
    wait_power_stable();
    return detect_and_init(s);
}

static void deinit_driver(void)
{
    if (s_initialized) {
        esp_camera_deinit();
        s_initialized = false;
    }
    set_info_ready(false);
}

esp_err_t camera_restart(const settings_t *s)
{
    deinit_driver();
    portENTER_CRITICAL(&s_mux);
    s_info.restarts++;
    portEXIT_CRITICAL(&s_mux);
    ESP_LOGW(TAG, "power-cycling the camera");
    power_off();
    vTaskDelay(pdMS_TO_TICKS(200));
    camera_power_on();
    return camera_start(s);
}

esp_err_t camera_apply(const settings_t *s)
{
    if (!s_initialized) {
        return ESP_ERR_INVALID_STATE;
    }
    cam_info_t info;
    camera_get_info(&info);
    int want = s->framesize;
    if (!framesize_supported(info.sensor, want)) {
        want = framesize_max_for_sensor(info.sensor);
    }
    esp_err_t result = ESP_OK;
    if (want != info.framesize) {
        if (framesize_needs_reinit(s_hw_jpeg, s_alloc_fs, want)) {
            /* buffers are sized at init: a larger (or, for RGB565, any other) size needs a new init */
            pixformat_t format = s_hw_jpeg ? PIXFORMAT_JPEG : PIXFORMAT_RGB565;
            int old = s_alloc_fs;
            int old_in_use = info.framesize;
            ESP_LOGI(TAG, "re-initialising for %s", framesize_name(want));
            deinit_driver();
            esp_err_t err = init_driver(want, format, s->quality);
            if (err != ESP_OK) {
                ESP_LOGE(TAG, "%s failed (%s); back to %s", framesize_name(want), esp_err_to_name(err),
                         framesize_name(old_in_use));
                result = err;
                want = old_in_use;
                err = init_driver(old, format, s->quality);
                if (err == ESP_OK && old_in_use != old) {
                    sensor_t *sensor = esp_camera_sensor_get();
                    if (sensor && sensor->set_framesize) {
                        sensor->set_framesize(sensor, (framesize_t)old_in_use);
                    }
                }
                if (err != ESP_OK) {
                    ESP_LOGE(TAG, "camera re-init failed: %s", esp_err_to_name(err));
                    return err; /* not ready: the streaming task restarts the camera */
                }
            }
            set_info_ready(true);
        } else {
            sensor_t *sensor = esp_camera_sensor_get();
            if (sensor == NULL || sensor->set_framesize == NULL ||
                sensor->set_framesize(sensor, (framesize_t)want) != 0) {
                ESP_LOGE(TAG, "set_framesize(%s) failed", framesize_name(want));
                result = ESP_FAIL;
                want = info.framesize;
            }
        }
        portENTER_CRITICAL(&s_mux);
        s_info.framesize = want;
        portEXIT_CRITICAL(&s_mux);
    }
    apply_sensor_controls(s);
    return result;
}

static void count(uint32_t *counter)
{
    portENTER_CRITICAL(&s_mux);
    (*counter)++;
    portEXIT_CRITICAL(&s_mux);
}

bool camera_capture(camera_frame_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!s_initialized) {
        return false;
    }
    camera_fb_t *fb = esp_camera_fb_get(); /* waits up to 4 s */
    if (fb == NULL) {
        count(&s_info.capture_failures);
        return false;
    }
    out->width = fb->width;
    out->height = fb->height;
    if (fb->format == PIXFORMAT_JPEG) {
        size_t len = jpeg_complete_length(fb->buf, fb->len);
        if (len == 0) {
            esp_camera_fb_return(fb); /* corrupt frame: no SOI/EOI */
            count(&s_info.capture_failures);
            return false;
        }
        out->data = fb->buf;
        out->len = len;
        out->fb = fb; /* held until camera_release */
        return true;
    }
    /* GC0308: RGB565 -> JPEG into the growable buffer; frame2jpg would truncate at 128 KB */
    int64_t t0 = esp_timer_get_time();
    jpegbuf_reset(&s_jpeg);
    bool ok = frame2jpg_cb(fb, (uint8_t)quality_to_encoder(s_quality), jpegbuf_write_cb, &s_jpeg);
    esp_camera_fb_return(fb); /* the raw frame is no longer needed: let the driver refill it */
    uint32_t ms = (uint32_t)((esp_timer_get_time() - t0) / 1000);
    portENTER_CRITICAL(&s_mux);
    s_info.last_encode_ms = ms;
    portEXIT_CRITICAL(&s_mux);
    if (!ok || !jpegbuf_ok(&s_jpeg)) {
        count(&s_info.encode_failures);
        ESP_LOGW(TAG, "software JPEG failed (%s%s%s)", ok ? "" : "encoder error ",
                 s_jpeg.overflow ? "over 2 MiB " : "", s_jpeg.alloc_failed ? "out of memory" : "");
        return false;
    }
    out->data = s_jpeg.data;
    out->len = s_jpeg.len;
    return true;
}

void camera_release(camera_frame_t *f)
{
    if (f->fb) {
        esp_camera_fb_return((camera_fb_t *)f->fb);
        f->fb = NULL;
    }
    f->data = NULL;
    f->len = 0;
}

void camera_get_info(cam_info_t *info)
{
    portENTER_CRITICAL(&s_mux);
    *info = s_info;
    portEXIT_CRITICAL(&s_mux);
}
