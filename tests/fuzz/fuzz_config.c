/*
 * fuzz_config.c - the "key = value" config file parser.
 */
#include <stdint.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct daemon_config cfg;
    struct fl_err err;
    memset(&cfg, 0, sizeof(cfg));
    config_parse(&cfg, (const char *)data, size, &err);
    return 0;
}
