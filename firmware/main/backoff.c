#include "backoff.h"

void backoff_init(backoff_t *b, uint32_t base_ms, uint32_t max_ms)
{
    b->base_ms = base_ms ? base_ms : 1;
    b->max_ms = max_ms < b->base_ms ? b->base_ms : max_ms;
    b->current_ms = b->base_ms;
    b->attempts = 0;
}

uint32_t backoff_next(backoff_t *b, uint32_t random)
{
    uint32_t d = b->current_ms;
    uint32_t half = d / 2;
    uint32_t delay = (d - half) + random % (half + 1);  /* [d - d/2, d] (ceil half for odd d) */
    if (delay == 0) {
        delay = 1;
    }
    b->current_ms = (d > b->max_ms / 2) ? b->max_ms : d * 2;
    if (b->attempts < UINT32_MAX) {
        b->attempts++;
    }
    return delay;
}

void backoff_reset(backoff_t *b)
{
    b->current_ms = b->base_ms;
    b->attempts = 0;
}
