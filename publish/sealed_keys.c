/*
 * keys/<dataset>/<node id>: a secure dataset's key sealed to one node,
 * written under the repository lock like every other object, into a
 * directory or a bucket (target.c).
 */
#include "publish_int.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

int publish_sealed_key_write(publish_lock_t *lock, const repo_key_t *platform,
			     const char *dataset, const auth_node_key_t *node,
			     const uint8_t dataset_key[PUBLISH_DATASET_KEY_LEN],
			     char **object_path)
{
	char id[AUTH_NODE_ID_LEN + 1];
	char *rel = NULL, *sealed = NULL;
	size_t sealed_len = 0;
	int rc;

	if (repo_name_invalid_reason(dataset, strlen(dataset))) {
		log_error("invalid dataset name: %s",
			  repo_name_invalid_reason(dataset, strlen(dataset)));
		return -EINVAL;
	}
	auth_node_key_id(node, id);
	rc = auth_seal_dataset_key(platform, dataset, node, dataset_key,
				   &sealed, &sealed_len);
	if (rc) {
		log_error("cannot seal the key of dataset '%s': %s", dataset,
			  strerror(-rc));
		goto out;
	}
	rel = repo_sealed_key_object_path(dataset, id);
	rc = publish_object_write(lock, rel, sealed, sealed_len);
	if (rc)
		goto out;
	if (object_path)
		*object_path = publish_object_name(lock, rel);
out:
	free(rel);
	free(sealed);
	return rc;
}
