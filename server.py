#!/usr/bin/env python3
"""ESP32 camera streaming server: JPEGs in over WebSocket, live H.264 and MJPEG out.

Run ``python3 server.py --help`` for the options; the data path is in ARCHITECTURE.md.
"""

import sys

from camserver.app import main

if __name__ == "__main__":
    sys.exit(main())
