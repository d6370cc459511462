/*
 * The catalog record decoders. Input: one byte n, then the record bytes
 * r. repo_dataset_decode gets the first min(n, |r|) bytes of r as the
 * name and the rest as the value; repo_inode_decode,
 * repo_chunk_record_decode and repo_name_invalid_reason each get all of
 * r. Every piece is copied into its own exactly sized allocation, so a
 * sanitizer build catches a read past any of them.
 */
#include "fuzz.h"
#include "repo.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

static void *dup_exact(const uint8_t *p, size_t n)
{
	void *q = malloc(n ? n : 1);

	if (!q)
		abort();
	if (n)
		memcpy(q, p, n);
	return q;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *r;
	size_t n, name_len;
	char *name, *val, *rec;
	struct repo_dataset d;
	struct repo_inode i;
	struct repo_chunk c;

	if (size == 0)
		return 0;
	r = data + 1;
	n = size - 1;
	name_len = data[0] < n ? data[0] : n;

	name = dup_exact(r, name_len);
	val = dup_exact(r + name_len, n - name_len);
	if (repo_dataset_decode(name, name_len, val, n - name_len, &d) == 0)
		repo_dataset_release(&d);
	free(name);
	free(val);

	rec = dup_exact(r, n);
	if (repo_inode_decode(2, rec, n, &i) == 0)
		repo_inode_release(&i);
	(void)repo_chunk_record_decode(rec, n, &c);
	(void)repo_name_invalid_reason(rec, n);
	free(rec);
	return 0;
}
