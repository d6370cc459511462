/*
 * Fixed keys for the fuzz targets, the same in every run and every
 * process, so that the valid seeds in the corpus (signed with them, see
 * corpus/README) verify and reach the code past the signature check.
 * Throwaway test keys derived from constant seeds: never use them for
 * anything else.
 */
#ifndef AIDATA_FUZZ_KEYS_H
#define AIDATA_FUZZ_KEYS_H

#include "auth.h"
#include "repo.h"

/* The dataset name sealed keys in the corpus are for. */
#define FUZZ_DATASET "medical-imaging-ct"

/* The platform's Ed25519 key pair. Created on first use, never freed. */
const repo_key_t *fuzz_platform_key(void);
/* The secure node's X25519 key pair. Created on first use, never freed. */
const auth_node_key_t *fuzz_node_key(void);

#endif
