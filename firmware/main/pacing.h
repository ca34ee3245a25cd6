/*
 * Frame pacing and rate measurement with the clock passed in (microseconds, e.g. from
 * esp_timer_get_time()). Portable: no ESP-IDF includes.
 */
#ifndef PACING_H
#define PACING_H

#include <stdbool.h>
#include <stdint.h>

#define PACING_FPS_MIN 1
#define PACING_FPS_MAX 30

typedef struct {
    int64_t period_us;    /* 1e6 / fps */
    int64_t next_due_us;  /* when the next frame may start */
    bool started;
} pacing_t;

/* fps is clamped to 1..30. */
void pacing_init(pacing_t *p, int fps);

/* Changes the rate; the next frame is due at most one new period after the last one. */
void pacing_set_fps(pacing_t *p, int fps);

/* Forget the schedule (after a reconnect): the next frame is due at once. */
void pacing_reset(pacing_t *p);

/* Microseconds to wait before starting the next frame; 0 when it is due. */
int64_t pacing_delay_us(const pacing_t *p, int64_t now_us);

/*
 * Call when a frame starts (capture begins) at now_us. The next deadline is the previous one
 * plus a period, so the long-run rate is exact; if the loop fell more than a period behind
 * (slow encode/send), the schedule restarts from now instead of bursting to catch up.
 */
void pacing_frame_started(pacing_t *p, int64_t now_us);

/* Frames-per-second actually achieved, over windows of at least window_us. */
typedef struct {
    int64_t window_us;
    int64_t window_start_us;
    uint32_t frames_in_window;
    uint32_t fps_x100;    /* last completed window, in hundredths of fps */
    bool started;
} rate_meter_t;

void rate_meter_init(rate_meter_t *m, int64_t window_us);

/* Count one frame at now_us. */
void rate_meter_tick(rate_meter_t *m, int64_t now_us);

/* Latest rate in hundredths of fps (1234 = 12.34 fps); decays to 0 when no frames arrive. */
uint32_t rate_meter_fps_x100(rate_meter_t *m, int64_t now_us);

/*
 * Stall detection for the restart-if-stuck safety net: true when limit_s > 0 and nothing
 * succeeded since last_ok_us for longer than limit_s seconds.
 */
bool pacing_stalled(int64_t last_ok_us, int64_t now_us, uint32_t limit_s);

#endif /* PACING_H */
