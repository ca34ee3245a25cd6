#include <stdint.h>

#include "backoff.h"
#include "check.h"

int main(void)
{
    backoff_t b;
    backoff_init(&b, 1000, 30000);
    /* without jitter (random = 0) the delay is the upper half's lower bound: ceil(d/2) ... */
    CHECK_INT(backoff_next(&b, 0), 500);
    CHECK_INT(backoff_next(&b, 0), 1000);
    CHECK_INT(backoff_next(&b, 0), 2000);
    CHECK_INT(backoff_next(&b, 0), 4000);
    CHECK_INT(backoff_next(&b, 0), 8000);
    CHECK_INT(backoff_next(&b, 0), 15000);   /* step capped at 30000 */
    CHECK_INT(backoff_next(&b, 0), 15000);
    CHECK_INT(b.attempts, 7);
    /* ... and with maximal jitter it is the full step */
    backoff_reset(&b);
    CHECK_INT(b.attempts, 0);
    CHECK_INT(backoff_next(&b, 500), 1000);
    CHECK_INT(backoff_next(&b, 1000), 2000);
    /* random wraps modulo (d/2 + 1): always within [d - d/2, d] */
    backoff_init(&b, 1000, 30000);
    int in_range = 1;
    uint32_t step = 1000;
    uint32_t seed = 12345;
    for (int i = 0; i < 200; i++) {
        seed = seed * 1103515245u + 12345u;
        uint32_t d = backoff_next(&b, seed);
        if (d < step - step / 2 || d > step) {
            in_range = 0;
        }
        step = step > 15000 ? 30000 : step * 2;
    }
    CHECK(in_range);
    CHECK_INT(backoff_next(&b, UINT32_MAX) <= 30000, 1);

    /* reset after success */
    backoff_reset(&b);
    CHECK_INT(backoff_next(&b, 0), 500);

    /* degenerate configuration */
    backoff_init(&b, 0, 0);
    CHECK_INT(b.base_ms, 1);
    CHECK_INT(b.max_ms, 1);
    CHECK(backoff_next(&b, 0) >= 1);
    CHECK(backoff_next(&b, UINT32_MAX) == 1);
    backoff_init(&b, 5000, 100);   /* cap below base is raised to base */
    CHECK_INT(b.max_ms, 5000);
    CHECK(backoff_next(&b, 7) <= 5000);
    CHECK(backoff_next(&b, 7) <= 5000);

    /* huge values never overflow */
    backoff_init(&b, 0x80000000u, UINT32_MAX);
    uint32_t d1 = backoff_next(&b, UINT32_MAX);
    uint32_t d2 = backoff_next(&b, UINT32_MAX);
    uint32_t d3 = backoff_next(&b, UINT32_MAX);
    CHECK(d1 >= 0x40000000u && d1 <= 0x80000000u);
    CHECK(d2 >= d1 / 2);
    CHECK(d3 >= 0x40000000u);
    CHECK_INT(b.current_ms, UINT32_MAX);
    return check_report("test_backoff");
}
