/* The USB console (esp_console REPL on USB-Serial-JTAG) and its commands. */
#ifndef CONSOLE_CMDS_H
#define CONSOLE_CMDS_H

void console_start(void);

#endif /* CONSOLE_CMDS_H */
