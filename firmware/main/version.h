/* Firmware version, sent in the hello message. Keep in step with PROJECT_VER in ../CMakeLists.txt
 * (the host tests check that they match). */
#ifndef VERSION_H
#define VERSION_H

#define FIRMWARE_VERSION "1.1.0"

#endif /* VERSION_H */
