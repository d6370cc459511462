/* Generator for the bundled sample platform behind 'aidata sample'. */
#ifndef AIDATA_SAMPLE_H
#define AIDATA_SAMPLE_H

#include <stdint.h>

/*
 * Write the sample platform (one directory per dataset plus datasets.json)
 * under out_dir, which must be missing or an empty directory. The same seed
 * always yields a byte-identical tree, mtimes included. Prints a one-line
 * summary on stdout when done.
 * Returns 0, -ENOTEMPTY if out_dir holds anything, or -errno.
 */
int sample_generate(const char *out_dir, uint64_t seed);

#endif
