/*
 * Exponential backoff with a cap and "equal jitter", the random source injected so it can be
 * tested (on the device: esp_random()). Portable: no ESP-IDF includes.
 */
#ifndef BACKOFF_H
#define BACKOFF_H

#include <stdint.h>

typedef struct {
    uint32_t base_ms;     /* first delay (before jitter) */
    uint32_t max_ms;      /* cap (before jitter) */
    uint32_t current_ms;  /* delay for the next attempt (before jitter) */
    uint32_t attempts;    /* attempts since the last reset */
} backoff_t;

/* base_ms 0 is treated as 1; max_ms below base_ms is raised to base_ms. */
void backoff_init(backoff_t *b, uint32_t base_ms, uint32_t max_ms);

/*
 * Delay before the next attempt: (d - d/2) + (random % (d/2 + 1)) where d is the current step, so
 * the result lies in [d/2, d] and never exceeds max_ms. The step then doubles up to max_ms.
 */
uint32_t backoff_next(backoff_t *b, uint32_t random);

/* After a success: start again from base_ms. */
void backoff_reset(backoff_t *b);

#endif /* BACKOFF_H */
