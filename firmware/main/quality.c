#include "quality.h"

static int clamp(int v, int lo, int hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

int quality_to_ov3660(int user_quality)
{
    int q = clamp(user_quality, QUALITY_MIN, QUALITY_MAX);
    const int span = QUALITY_OV3660_WORST - QUALITY_OV3660_BEST;   /* 57 */
    const int steps = QUALITY_MAX - QUALITY_MIN;                   /* 99 */
    /* rounded integer division of (q - 1) * span / steps */
    int drop = ((q - QUALITY_MIN) * span * 2 + steps) / (2 * steps);
    return QUALITY_OV3660_WORST - drop;
}

int quality_to_encoder(int user_quality)
{
    return clamp(user_quality, QUALITY_MIN, QUALITY_MAX);
}
