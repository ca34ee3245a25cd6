"""ESP32 camera streaming server: camera -> stream -> transcoder -> packager -> fan-out -> viewers."""
