/*
 * Secure chunks in memory. The chunk store keeps an encrypted chunk as
 * fetched (ciphertext); a reader gets its plaintext, decrypted once with
 * the dataset key and shared by every holder of a reference, in
 * anonymous memory kept out of core dumps. The last release wipes it.
 * Plaintext never touches disk (docs/FORMAT.md §6.4).
 */
#define _GNU_SOURCE
#include "cache_int.h"
#include "fsutil.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "banned.h"

struct cache_plain {
	struct digest key;	 /* the chunk's cache key */
	struct digest key_check; /* SHA-256 of the dataset key used */
	struct cache_plain *next;
	unsigned refs; /* protected by c->lock */
	bool ready;    /* protected by c->lock: decrypted, or failed */
	int rc;	       /* protected by c->lock, once ready */
	uint8_t *data; /* mapped, mapped_len bytes; size of them valid */
	size_t mapped_len;
	uint32_t size;
};

static struct cache_plain **bucket(cache_t *c, const struct digest *key)
{
	return &c->plain[key->b[0] % CACHE_PLAIN_BUCKETS];
}

/* Caller holds c->lock. */
static void unlink_entry(cache_t *c, struct cache_plain *p)
{
	for (struct cache_plain **pp = bucket(c, &p->key); *pp;
	     pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			return;
		}
	}
}

static void entry_free(struct cache_plain *p)
{
	if (p->data) {
		explicit_bzero(p->data, p->size);
		munmap(p->data, p->mapped_len);
	}
	free(p);
}

void cache_plain_release(cache_t *c, struct cache_plain *p)
{
	bool last;

	pthread_mutex_lock(&c->lock);
	last = --p->refs == 0;
	if (last && p->ready && !p->rc)
		unlink_entry(c, p);
	pthread_mutex_unlock(&c->lock);
	if (last)
		entry_free(p);
}

void cache_plain_free_all(cache_t *c)
{
	for (size_t b = 0; b < CACHE_PLAIN_BUCKETS; b++) {
		while (c->plain[b]) {
			struct cache_plain *p = c->plain[b];

			c->plain[b] = p->next;
			entry_free(p);
		}
	}
}

/* Anonymous pages for size bytes, excluded from core dumps. */
static int map_plain(struct cache_plain *p, uint32_t size)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t len = size ? size : 1;

	len = (len + (size_t)page - 1) / (size_t)page * (size_t)page;
	p->data = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p->data == MAP_FAILED) {
		p->data = NULL;
		return -ENOMEM;
	}
	p->mapped_len = len;
	p->size = size;
	/* best effort: a kernel without it still keeps the data off disk */
	madvise(p->data, len, MADV_DONTDUMP);
	return 0;
}

/* Read the stored ciphertext of ch and decode it into p. */
static int decrypt_into(cache_t *c, const struct repo_chunk *ch,
			const uint8_t key[REPO_CHUNK_KEY_LEN],
			struct cache_plain *p)
{
	char hex[DIGEST_HEX_LEN + 1], rel[128];
	struct cache_chunk_ref stored;
	uint8_t *copy = NULL;
	int rc;

	rc = cache_stored_acquire(c, ch, &stored);
	if (rc)
		return rc;
	rc = map_plain(p, ch->size);
	if (!rc && stored.fd >= 0) {
		copy = xmalloc(ch->stored_size ? ch->stored_size : 1);
		rc = fs_pread_all(stored.fd, copy, ch->stored_size, 0);
	}
	if (!rc) {
		STAT_ADD(c->stats.decryptions, 1);
		rc = repo_chunk_decode(copy ? copy : stored.mem,
				       ch->stored_size, ch, key, p->data);
	}
	free(copy);
	cache_chunk_release(c, &stored);
	if (rc == -EBADMSG || rc == -EINVAL) {
		/* only the key tells bad ciphertext: let a refetch heal it */
		STAT_ADD(c->stats.err_verify, 1);
		digest_to_hex(&ch->digest, hex);
		repo_shard_object_path(&ch->shard, rel, sizeof(rel));
		log_error(
		    "chunk '%s' from shard '%s': %s; refusing the bytes%s", hex,
		    rel,
		    rc == -EBADMSG ? "does not decrypt or verify"
				   : "corrupt frame",
		    cache_stored_forget(c, ch) ? " and dropping the cached copy"
					       : "");
		rc = -EIO;
	}
	return rc;
}

int cache_plain_acquire(cache_t *c, const struct repo_chunk *ch,
			const uint8_t key[REPO_CHUNK_KEY_LEN],
			struct cache_chunk_ref *ref)
{
	struct cache_plain *p, **head;
	struct digest ck, kc;
	int rc;

	cache_chunk_key(ch, &ck);
	sha256_buffer(key, REPO_CHUNK_KEY_LEN, &kc);
	pthread_mutex_lock(&c->lock);
	head = bucket(c, &ck);
	for (p = *head; p; p = p->next)
		if (digest_equal(&p->key, &ck))
			break;
	if (p) {
		/* decrypted, or being decrypted by another reader */
		p->refs++;
		while (!p->ready)
			pthread_cond_wait(&c->cond, &c->lock);
		rc = p->rc;
		if (!rc && !digest_equal(&p->key_check, &kc))
			rc = -EACCES; /* decrypted with another key */
		pthread_mutex_unlock(&c->lock);
		goto out;
	}
	p = xcalloc(1, sizeof(*p));
	p->key = ck;
	p->key_check = kc;
	p->refs = 1;
	p->next = *head;
	*head = p;
	pthread_mutex_unlock(&c->lock);

	rc = decrypt_into(c, ch, key, p);

	pthread_mutex_lock(&c->lock);
	p->ready = true;
	p->rc = rc;
	if (rc)
		unlink_entry(c, p); /* the next reader tries afresh */
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
out:
	if (rc) {
		cache_plain_release(c, p);
		return rc;
	}
	cache_plain_ref_init(ref, p, p->data, p->size);
	return 0;
}
