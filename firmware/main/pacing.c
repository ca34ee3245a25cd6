#include "pacing.h"

static int clamp_fps(int fps)
{
    return fps < PACING_FPS_MIN ? PACING_FPS_MIN : (fps > PACING_FPS_MAX ? PACING_FPS_MAX : fps);
}

void pacing_init(pacing_t *p, int fps)
{
    p->period_us = 1000000 / clamp_fps(fps);
    p->next_due_us = 0;
    p->started = false;
}

void pacing_set_fps(pacing_t *p, int fps)
{
    int64_t old_period = p->period_us;
    p->period_us = 1000000 / clamp_fps(fps);
    if (p->started) {
        /* the frame the old deadline belongs to started at next_due - old_period */
        p->next_due_us = p->next_due_us - old_period + p->period_us;
    }
}

void pacing_reset(pacing_t *p)
{
    p->started = false;
    p->next_due_us = 0;
}

int64_t pacing_delay_us(const pacing_t *p, int64_t now_us)
{
    if (!p->started || now_us >= p->next_due_us) {
        return 0;
    }
    return p->next_due_us - now_us;
}

void pacing_frame_started(pacing_t *p, int64_t now_us)
{
    if (!p->started) {
        p->started = true;
        p->next_due_us = now_us + p->period_us;
        return;
    }
    int64_t next = p->next_due_us + p->period_us;
    if (next <= now_us) {
        next = now_us + p->period_us;  /* fell a whole period behind: no burst */
    }
    p->next_due_us = next;
}

void rate_meter_init(rate_meter_t *m, int64_t window_us)
{
    m->window_us = window_us > 0 ? window_us : 1000000;
    m->window_start_us = 0;
    m->frames_in_window = 0;
    m->fps_x100 = 0;
    m->started = false;
}

static void roll(rate_meter_t *m, int64_t now_us)
{
    int64_t elapsed = now_us - m->window_start_us;
    if (elapsed < m->window_us) {
        return;
    }
    /* average over the whole elapsed time, so a long silence reads as a low rate, then 0 */
    m->fps_x100 = (uint32_t)(((int64_t)m->frames_in_window * 100000000) / elapsed);
    m->frames_in_window = 0;
    m->window_start_us = now_us;
}

void rate_meter_tick(rate_meter_t *m, int64_t now_us)
{
    if (!m->started) {
        m->started = true;
        m->window_start_us = now_us;
    }
    roll(m, now_us);
    m->frames_in_window++;
}

uint32_t rate_meter_fps_x100(rate_meter_t *m, int64_t now_us)
{
    if (!m->started) {
        return 0;
    }
    roll(m, now_us);
    return m->fps_x100;
}

bool pacing_stalled(int64_t last_ok_us, int64_t now_us, uint32_t limit_s)
{
    if (limit_s == 0) {
        return false;
    }
    return now_us - last_ok_us > (int64_t)limit_s * 1000000;
}
