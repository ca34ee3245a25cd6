#include "check.h"
#include "quality.h"

int main(void)
{
    /* OV3660: 0..63, lower is better; the mapping goes the other way from the user's scale */
    CHECK_INT(quality_to_ov3660(1), 63);
    CHECK_INT(quality_to_ov3660(100), QUALITY_OV3660_BEST);
    CHECK_INT(quality_to_ov3660(80), 18);
    CHECK_INT(quality_to_ov3660(90), 12);
    CHECK_INT(quality_to_ov3660(50), 35);
    /* out-of-range input is clamped, never produces values outside 0..63 */
    CHECK_INT(quality_to_ov3660(0), 63);
    CHECK_INT(quality_to_ov3660(-5), 63);
    CHECK_INT(quality_to_ov3660(101), QUALITY_OV3660_BEST);
    CHECK_INT(quality_to_ov3660(1000000), QUALITY_OV3660_BEST);
    int prev = 64;
    int ok_monotonic = 1, ok_range = 1;
    for (int q = 1; q <= 100; q++) {
        int s = quality_to_ov3660(q);
        if (s > prev) {
            ok_monotonic = 0;
        }
        if (s < 0 || s > 63 || s < QUALITY_OV3660_BEST) {
            ok_range = 0;
        }
        prev = s;
    }
    CHECK(ok_monotonic);
    CHECK(ok_range);

    /* software encoder: 1..100 higher is better, same direction, clamped */
    CHECK_INT(quality_to_encoder(1), 1);
    CHECK_INT(quality_to_encoder(80), 80);
    CHECK_INT(quality_to_encoder(100), 100);
    CHECK_INT(quality_to_encoder(0), 1);
    CHECK_INT(quality_to_encoder(-3), 1);
    CHECK_INT(quality_to_encoder(255), 100);

    /* every sensor step from 63 down to the best value is reachable */
    int seen[64] = {0};
    for (int q = 1; q <= 100; q++) {
        seen[quality_to_ov3660(q)] = 1;
    }
    int all = 1;
    for (int v = QUALITY_OV3660_BEST; v <= 63; v++) {
        all &= seen[v];
    }
    CHECK(all);
    return check_report("test_quality");
}
