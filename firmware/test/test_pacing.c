#include "check.h"
#include "pacing.h"

int main(void)
{
    pacing_t p;
    pacing_init(&p, 10);
    CHECK_INT(p.period_us, 100000);
    /* first frame is due at once */
    CHECK_INT(pacing_delay_us(&p, 5000000), 0);
    pacing_frame_started(&p, 5000000);
    CHECK_INT(pacing_delay_us(&p, 5000000), 100000);
    CHECK_INT(pacing_delay_us(&p, 5040000), 60000);
    CHECK_INT(pacing_delay_us(&p, 5100000), 0);
    CHECK_INT(pacing_delay_us(&p, 5200000), 0);

    /* a slightly late frame keeps the long-run schedule (no drift) */
    pacing_frame_started(&p, 5110000);
    CHECK_INT(p.next_due_us, 5200000);
    CHECK_INT(pacing_delay_us(&p, 5110000), 90000);

    /* a frame more than one period late restarts the schedule: no burst of catch-up frames */
    pacing_frame_started(&p, 5650000);
    CHECK_INT(p.next_due_us, 5750000);
    CHECK_INT(pacing_delay_us(&p, 5650001), 99999);

    /* steady loop: 100 frames at 10 fps take ~10 s */
    pacing_init(&p, 10);
    int64_t t = 0;
    for (int i = 0; i < 100; i++) {
        t += pacing_delay_us(&p, t);
        pacing_frame_started(&p, t);
        t += 30000; /* capture + send time */
    }
    CHECK(t >= 9900000 + 30000 && t <= 10000000 + 30000);

    /* fps is clamped to 1..30 */
    pacing_init(&p, 0);
    CHECK_INT(p.period_us, 1000000);
    pacing_init(&p, -7);
    CHECK_INT(p.period_us, 1000000);
    pacing_init(&p, 31);
    CHECK_INT(p.period_us, 33333);
    pacing_init(&p, 1000);
    CHECK_INT(p.period_us, 33333);
    pacing_init(&p, 30);
    CHECK_INT(p.period_us, 33333);
    pacing_init(&p, 1);
    CHECK_INT(p.period_us, 1000000);

    /* changing fps mid-stream: next deadline = last start + new period */
    pacing_init(&p, 1);
    pacing_frame_started(&p, 0);
    CHECK_INT(pacing_delay_us(&p, 100000), 900000);
    pacing_set_fps(&p, 10);
    CHECK_INT(pacing_delay_us(&p, 50000), 50000);
    pacing_set_fps(&p, 2);
    CHECK_INT(pacing_delay_us(&p, 0), 500000);
    /* before any frame: set_fps only changes the period */
    pacing_init(&p, 5);
    pacing_set_fps(&p, 20);
    CHECK_INT(p.period_us, 50000);
    CHECK_INT(pacing_delay_us(&p, 123), 0);

    /* reset: due at once */
    pacing_init(&p, 2);
    pacing_frame_started(&p, 1000);
    CHECK(pacing_delay_us(&p, 1000) > 0);
    pacing_reset(&p);
    CHECK_INT(pacing_delay_us(&p, 1000), 0);

    /* rate meter */
    rate_meter_t m;
    rate_meter_init(&m, 1000000);
    CHECK_INT(rate_meter_fps_x100(&m, 0), 0);
    for (int i = 0; i < 10; i++) {
        rate_meter_tick(&m, 1000000 + i * 100000);
    }
    rate_meter_tick(&m, 2000000); /* rolls the window: 10 frames in 1 s */
    CHECK_INT(rate_meter_fps_x100(&m, 2000000), 1000);
    /* long silence: reads as a low rate, then 0 */
    CHECK_INT(rate_meter_fps_x100(&m, 4000000), 50);   /* 1 frame in 2 s */
    CHECK_INT(rate_meter_fps_x100(&m, 9000000), 0);
    /* invalid window falls back to 1 s */
    rate_meter_init(&m, 0);
    CHECK_INT(m.window_us, 1000000);
    rate_meter_init(&m, -5);
    CHECK_INT(m.window_us, 1000000);
    /* 7.5 fps */
    rate_meter_init(&m, 2000000);
    for (int i = 0; i < 15; i++) {
        rate_meter_tick(&m, i * 133333);
    }
    CHECK_INT(rate_meter_fps_x100(&m, 2000000), 750);

    /* stall detection */
    CHECK(!pacing_stalled(0, 10000000, 0));          /* disabled */
    CHECK(!pacing_stalled(0, 10000000, 10));          /* exactly the limit: not yet */
    CHECK(pacing_stalled(0, 10000001, 10));
    CHECK(!pacing_stalled(5000000, 10000000, 10));
    CHECK(pacing_stalled(0, (int64_t)86400 * 1000000 * 2, 86400));
    return check_report("test_pacing");
}
