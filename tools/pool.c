#include "pool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

static int open_catalog(void *ctx, const struct repo_dataset *d,
			repo_catalog_t **out)
{
	return local_repo_dataset_catalog(ctx, d, out);
}

int pool_open(const char *dir, const repo_key_t *key, struct pool *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = local_repo_open(dir, key, &out->repo);
	if (rc == -ENOENT)
		fprintf(stderr, "aidata: '%s': no manifest; not a repository\n",
			dir);
	if (!rc)
		rc = publish_ledger_build(out->repo->root_catalog, open_catalog,
					  out->repo, &out->ledger);
	if (rc)
		pool_release(out);
	return rc;
}

void pool_release(struct pool *p)
{
	publish_ledger_free(p->ledger);
	local_repo_free(p->repo);
	memset(p, 0, sizeof(*p));
}

static bool revoked(const struct repo_manifest *m, const char *jti)
{
	for (size_t i = 0; i < m->revoked_count; i++)
		if (!strcmp(m->revoked[i], jti))
			return true;
	return false;
}

int pool_outstanding(const struct pool *p, const char *record, int64_t now,
		     struct auth_claims **out, size_t *n)
{
	size_t kept = 0;
	int rc = publish_issued_load(record, out, n);

	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	for (size_t i = 0; i < *n; i++) {
		struct auth_claims *c = &(*out)[i];

		if (c->exp <= now || revoked(&p->repo->manifest, c->jti))
			auth_claims_release(c);
		else
			(*out)[kept++] = *c;
	}
	*n = kept;
	return 0;
}

void pool_claims_free(struct auth_claims *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		auth_claims_release(&v[i]);
	free(v);
}
