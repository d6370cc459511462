/* The publisher's lock of a directory or a bucket (repo_lock.h). */
#include "repo_lock.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "banned.h"

int repo_lock_take(const char *cmd, const char *repo, bool force_unlock,
		   publish_lock_t **out)
{
	int rc;

	if (publish_repo_is_bucket(repo)) {
		struct publish_bucket b = {
		    .url = repo,
		    .retries = 3,
		    .force_unlock = force_unlock,
		    .command = cmd,
		};

		return publish_lock_acquire_bucket(&b, out);
	}
	if (force_unlock) {
		fprintf(stderr,
			"aidata %s: --force-unlock is for s3:// repositories "
			"(a directory's lock goes away with its holder)\n",
			cmd);
		return -EINVAL;
	}
	rc = publish_lock_acquire(repo, out);
	if (rc == -ENOENT || rc == -ENOTDIR)
		fprintf(stderr,
			"aidata %s: '%s' is not a repository directory\n", cmd,
			repo);
	return rc;
}
