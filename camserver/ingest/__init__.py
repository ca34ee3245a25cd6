"""Camera side of the data path: the camera WebSocket, one stream per camera id, its FFmpeg child and the packager that turns encoded frames into what outputs send."""
