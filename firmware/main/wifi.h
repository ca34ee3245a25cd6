/* Wi-Fi station: reconnects forever with capped exponential backoff; power save off. */
#ifndef WIFI_H
#define WIFI_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    bool started;
    bool connected;             /* has an IP address */
    char ssid[33];
    char ip[16];
    int rssi;                   /* dBm, 0 when not connected */
    int last_reason;            /* last disconnect reason code, 0 = none */
    const char *last_reason_text;
    uint32_t disconnects;
    uint32_t generation;        /* +1 on every new IP: lets other tasks notice reconnects */
} wifi_status_t;

/* netif + default event loop + Wi-Fi driver; connects if an SSID is configured. */
void wifi_start(void);

/* Re-reads the SSID/password from the settings and reconnects. */
void wifi_reconfigure(void);

bool wifi_is_connected(void);
void wifi_get_status(wifi_status_t *st);

#endif /* WIFI_H */
