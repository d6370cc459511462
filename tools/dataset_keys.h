/*
 * The publisher's store of secure datasets' keys (AES-256, one per
 * dataset), kept beside the platform key because whoever holds one holds
 * the other:
 *
 *   <directory of platform_key_path>/dataset-keys/            mode 0700
 *   <directory of platform_key_path>/dataset-keys/<name>.key  mode 0600
 *
 * A key file holds exactly 64 lowercase hex characters and a "\n".
 * Losing it makes the dataset's encrypted chunks unreadable by any new
 * node (nodes already granted keep their sealed copy); back it up with
 * the platform key. Its bytes are never printed or logged.
 */
#ifndef AIDATA_DATASET_KEYS_H
#define AIDATA_DATASET_KEYS_H

#include <stdbool.h>
#include <stdint.h>

#define DATASET_KEY_LEN 32 /* == AUTH_DATASET_KEY_LEN */

/*
 * The key of dataset (a valid dataset name, repo_name_invalid_reason)
 * into key. With create, a missing key is generated and written (temp
 * file, fsync, atomic no-replace rename, so two concurrent packs agree on
 * one key and an existing key is never replaced); without it a missing
 * key is -ENOENT. Returns 0, -ENOENT, -EINVAL (invalid name, or a key
 * file that is not exactly the format above), -ENAMETOOLONG (a name of
 * more than 251 bytes does not fit a file name with ".key") or -errno.
 * On error key is zeroed.
 */
int dataset_key_get(const char *platform_key_path, const char *dataset,
		    bool create, uint8_t key[DATASET_KEY_LEN]);

#endif
