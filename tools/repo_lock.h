/*
 * The publisher's lock for the commands that change a repository in
 * place (aidata revoke, grant-node): a directory's flock, or a bucket's
 * lock object when REPO is s3://BUCKET/PREFIX (the store and its
 * credentials from the AWS variables, as for every aidata command).
 */
#ifndef AIDATA_REPO_LOCK_H
#define AIDATA_REPO_LOCK_H

#include <stdbool.h>

#include "publish.h"

/* 0 and *out, or -errno with the reason printed in cmd's name. */
int repo_lock_take(const char *cmd, const char *repo, bool force_unlock,
		   publish_lock_t **out);

#endif
