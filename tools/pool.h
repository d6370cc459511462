/*
 * The alliance pool for the tools (aidata ledger, aidata token issue
 * --policy): a repository's ledger, read the way aidata ls reads it
 * (repo_local.c, through cache/), so a local directory and a file://,
 * http:// or https:// repository alike.
 */
#ifndef AIDATA_POOL_H
#define AIDATA_POOL_H

#include "publish.h"
#include "repo_local.h"

struct pool {
	struct local_repo *repo; /* its manifest: revision, revoked ids */
	struct publish_ledger *ledger;
};

/*
 * Open the repository dir, verified with key (public, or private for
 * its public half), and build its ledger: every dataset catalog is
 * fetched and verified. Errors are printed (naming the object) or
 * logged. 0 or a negative errno; release *out with pool_release.
 */
int pool_open(const char *dir, const repo_key_t *key, struct pool *out);
void pool_release(struct pool *p);

/*
 * The credentials the publisher's record (publish_issued_load) holds
 * that are outstanding in this revision: not expired at now and not
 * revoked by its manifest. *out and *n as publish_issued_load gives
 * them (an absent record is none). 0, or the error (logged).
 */
int pool_outstanding(const struct pool *p, const char *record, int64_t now,
		     struct auth_claims **out, size_t *n);
void pool_claims_free(struct auth_claims *v, size_t n);

#endif
