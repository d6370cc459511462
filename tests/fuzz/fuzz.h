/*
 * Fuzz targets (tests/fuzz/): each fuzz_<name>.c defines the libFuzzer
 * entry point below for one parser. replay.c runs a target over its seed
 * corpus (tests/fuzz/corpus/<name>/) under plain meson test; a libFuzzer
 * build links the same file with -fsanitize=fuzzer instead (meson.build).
 */
#ifndef AIDATA_FUZZ_H
#define AIDATA_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Must accept any bytes without crashing, leaking or reading past size;
 * returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
