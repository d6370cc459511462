/*
 * Unit tests: the per-job accounts behind data receipts (fs/receipt.c)
 * and their signature (auth_receipt_seal/verify): counts stay exact
 * past every limit while lists stop and say so; reads count where their
 * file was opened, and no longer after a reset; cgroups past the limit
 * replace a gone one first, else the idlest; concurrent opens and reads
 * add up. A signed receipt verifies, re-encoded too; edited, unsigned,
 * signed by another key or malformed, it does not.
 */
#define _GNU_SOURCE
#include "auth.h"
#include "log.h"
#include "receipt.h"
#include "unit.h"
#include "xalloc.h"

#include <jansson.h>
#include <pthread.h>

#include "banned.h"

static const struct receipt_dataset *ds_of(const struct receipt_account *a,
					   uint32_t dataset)
{
	for (size_t i = 0; i < a->ndatasets; i++)
		if (a->datasets[i].dataset == dataset)
			return &a->datasets[i];
	return NULL;
}

static void test_counts(void)
{
	receipt_book_t *b;
	struct receipt_tag t1, t2, t3;
	struct receipt_account a;
	const struct receipt_dataset *d;

	REQUIRE_RC(receipt_book_new(NULL, NULL, NULL, &b), 0);
	receipt_record_open(b, "/job/a", 7, 1000, 3, 12, 40, 100, &t1);
	receipt_record_open(b, "/job/a", 7, 1000, 3, 12, 10, 101, &t2);
	receipt_record_open(b, "/job/a", 7, 1000, 5, 13, 40, 102, &t3);
	receipt_record_bytes(b, &t1, 100);
	receipt_record_bytes(b, &t2, 20);
	receipt_record_bytes(b, &t3, 7);
	{
		struct receipt_tag tb;

		receipt_record_open(b, "/job/b", 8, 1000, 3, 12, 99, 103, &tb);
		receipt_record_bytes(b, &tb, 1000);
	}
	REQUIRE_RC(receipt_snapshot(b, "/job/a", 7, false, 200, &a), 0);
	CHECK_STR(a.cgroup, "/job/a");
	CHECK_U64(a.id, 7);
	CHECK_U64(a.owner, 1000);
	CHECK(a.started == 100);
	CHECK_U64(a.ndatasets, 2);
	d = ds_of(&a, 3);
	REQUIRE(d);
	CHECK_U64(d->revision, 12);
	CHECK_U64(d->opens, 2);
	CHECK_U64(d->bytes, 120);
	CHECK_U64(d->nfiles, 2);
	CHECK_U64(d->files[0].file, 10); /* sorted */
	CHECK_U64(d->files[1].file, 40);
	CHECK_U64(d->files[1].opens, 1);
	CHECK(!d->truncated);
	d = ds_of(&a, 5);
	REQUIRE(d);
	CHECK_U64(d->revision, 13);
	CHECK_U64(d->bytes, 7);
	receipt_account_release(&a);
	/* another cgroup's reads are its own */
	REQUIRE_RC(receipt_snapshot(b, "/job/b", 8, false, 200, &a), 0);
	CHECK_U64(ds_of(&a, 3)->bytes, 1000);
	CHECK_U64(ds_of(&a, 3)->files[0].file, 99);
	receipt_account_release(&a);
	CHECK_RC(receipt_snapshot(b, "/job/none", 0, false, 200, &a), -ENOENT);
	CHECK_STR(a.cgroup, "/job/none");
	CHECK_U64(a.ndatasets, 0);
	receipt_account_release(&a);
	receipt_book_free(b);
}

/* Past the limits: lists stop (truncated), counts stay exact. */
static void test_limits(void)
{
	struct receipt_limits lim = {4, 2, 3, 5};
	receipt_book_t *b;
	struct receipt_account a;
	struct receipt_tag t;
	uint64_t dropped, held;

	REQUIRE_RC(receipt_book_new(&lim, NULL, NULL, &b), 0);
	/* 5 files of dataset 1 in one account: 3 listed */
	for (uint64_t f = 1; f <= 5; f++) {
		receipt_record_open(b, "/j1", 1, 0, 1, 1, f, 1, &t);
		receipt_record_bytes(b, &t, 10);
	}
	/* again file 2 (listed) and file 5 (not) */
	receipt_record_open(b, "/j1", 1, 0, 1, 1, 2, 1, &t);
	receipt_record_open(b, "/j1", 1, 0, 1, 1, 5, 1, &t);
	/* dataset 2, then dataset 3: past the limit of 2 datasets */
	receipt_record_open(b, "/j1", 1, 0, 2, 1, 9, 1, &t);
	receipt_record_open(b, "/j1", 1, 0, 3, 1, 9, 1, &t);
	receipt_record_bytes(b, &t, 33);
	REQUIRE_RC(receipt_snapshot(b, "/j1", 1, false, 2, &a), 0);
	CHECK_U64(a.ndatasets, 2);
	CHECK_U64(ds_of(&a, 1)->opens, 7);
	CHECK_U64(ds_of(&a, 1)->bytes, 50);
	CHECK_U64(ds_of(&a, 1)->nfiles, 3);
	CHECK(ds_of(&a, 1)->truncated);
	CHECK_U64(ds_of(&a, 1)->opens_unlisted, 3);
	CHECK_U64(ds_of(&a, 1)->files[1].opens, 2);
	/* the account's list was full: dataset 2's file is not listed */
	CHECK_U64(ds_of(&a, 2)->opens, 1);
	CHECK_U64(ds_of(&a, 2)->nfiles, 0);
	CHECK(ds_of(&a, 2)->truncated);
	CHECK(!ds_of(&a, 3));
	CHECK_U64(a.opens_unlisted, 1);
	CHECK_U64(a.bytes_unlisted, 33);
	receipt_account_release(&a);
	/* the book's total: 2 more files fit over all accounts */
	for (uint64_t f = 1; f <= 3; f++)
		receipt_record_open(b, "/j2", 2, 0, 1, 1, f, 1, &t);
	REQUIRE_RC(receipt_snapshot(b, "/j2", 2, false, 2, &a), 0);
	CHECK_U64(ds_of(&a, 1)->nfiles, 2);
	CHECK(ds_of(&a, 1)->truncated);
	CHECK_U64(ds_of(&a, 1)->opens, 3);
	receipt_account_release(&a);
	receipt_book_counts(b, &dropped, &held);
	CHECK_U64(held, 5);
	CHECK_U64(dropped, 0);
	receipt_book_free(b);
}

/* A reset hands back the account and starts a new one; reads through
 * files opened before it no longer count. */
static void test_reset(void)
{
	receipt_book_t *b;
	struct receipt_account a;
	struct receipt_tag before, after;

	REQUIRE_RC(receipt_book_new(NULL, NULL, NULL, &b), 0);
	receipt_record_open(b, "/j", 5, 0, 1, 1, 1, 10, &before);
	receipt_record_bytes(b, &before, 8);
	REQUIRE_RC(receipt_snapshot(b, "/j", 5, true, 20, &a), 0);
	CHECK_U64(ds_of(&a, 1)->bytes, 8);
	CHECK_U64(a.resets, 0);
	receipt_account_release(&a);
	receipt_record_bytes(b, &before, 1000);
	REQUIRE_RC(receipt_snapshot(b, "/j", 5, false, 30, &a), 0);
	CHECK_U64(a.ndatasets, 0);
	CHECK_U64(a.resets, 1);
	CHECK(a.started == 20);
	receipt_account_release(&a);
	receipt_record_open(b, "/j", 5, 0, 1, 1, 2, 40, &after);
	receipt_record_bytes(b, &after, 3);
	receipt_record_bytes(b, &before, 1000);
	REQUIRE_RC(receipt_snapshot(b, "/j", 5, false, 50, &a), 0);
	CHECK_U64(ds_of(&a, 1)->bytes, 3);
	CHECK_U64(ds_of(&a, 1)->nfiles, 1);
	receipt_account_release(&a);
	receipt_book_free(b);
}

static const char *gone_cgroup;

static bool is_gone(void *ctx, const char *cgroup, uint64_t id)
{
	(void)ctx;
	(void)id;
	return gone_cgroup && !strcmp(cgroup, gone_cgroup);
}

/* Cgroups past the limit; ids; a path whose cgroup was made again. */
static void test_cgroups(void)
{
	struct receipt_limits lim = {2, 8, 100, 1000};
	receipt_book_t *b;
	struct receipt_account a;
	struct receipt_tag t, old;
	uint64_t dropped, held;

	REQUIRE_RC(receipt_book_new(&lim, is_gone, NULL, &b), 0);
	receipt_record_open(b, "/a", 1, 0, 1, 1, 1, 1, &old);
	receipt_record_open(b, "/b", 2, 0, 1, 1, 1, 1, &t);
	receipt_record_open(b, "/a", 1, 0, 1, 1, 2, 1, &t); /* a: newest */
	/* a third: /b is the idlest */
	receipt_record_open(b, "/c", 3, 0, 1, 1, 1, 1, &t);
	CHECK_RC(receipt_snapshot(b, "/b", 0, false, 1, &a), -ENOENT);
	receipt_account_release(&a);
	CHECK_RC(receipt_snapshot(b, "/a", 0, false, 1, &a), 0);
	receipt_account_release(&a);
	/* a fourth: /a is gone, so it goes although /c is idler */
	gone_cgroup = "/a";
	receipt_record_open(b, "/d", 4, 0, 1, 1, 1, 1, &t);
	CHECK_RC(receipt_snapshot(b, "/a", 0, false, 1, &a), -ENOENT);
	receipt_account_release(&a);
	CHECK_RC(receipt_snapshot(b, "/c", 3, false, 1, &a), 0);
	receipt_account_release(&a);
	/* a tag of a dropped account counts nowhere (its slot was reused) */
	receipt_record_bytes(b, &old, 5);
	REQUIRE_RC(receipt_snapshot(b, "/d", 4, false, 1, &a), 0);
	CHECK_U64(ds_of(&a, 1)->bytes, 0);
	receipt_account_release(&a);
	receipt_book_counts(b, &dropped, &held);
	CHECK_U64(dropped, 2);
	CHECK_U64(held, 2);
	/* /d made again (another id): a new account; id 0 finds the
	 * newest under the path */
	gone_cgroup = "/d";
	receipt_record_open(b, "/d", 44, 0, 1, 1, 7, 1, &t);
	REQUIRE_RC(receipt_snapshot(b, "/d", 0, false, 1, &a), 0);
	CHECK_U64(a.id, 44);
	CHECK_U64(ds_of(&a, 1)->files[0].file, 7);
	receipt_account_release(&a);
	gone_cgroup = NULL;
	receipt_book_free(b);
}

#define THREADS 4
#define OPENS 5000

static receipt_book_t *shared_book;

static void *opener_main(void *arg)
{
	uintptr_t k = (uintptr_t)arg;

	for (uint64_t i = 0; i < OPENS; i++) {
		struct receipt_tag t;

		receipt_record_open(shared_book, k % 2 ? "/odd" : "/even",
				    k % 2 + 1, 0, (uint32_t)(i % 3), 1, i % 700,
				    1, &t);
		receipt_record_bytes(shared_book, &t, 3);
	}
	return NULL;
}

static void test_concurrent(void)
{
	pthread_t th[THREADS];
	struct receipt_account a;
	uint64_t opens = 0, bytes = 0;

	REQUIRE_RC(receipt_book_new(NULL, NULL, NULL, &shared_book), 0);
	for (uintptr_t k = 0; k < THREADS; k++)
		REQUIRE(pthread_create(&th[k], NULL, opener_main, (void *)k) ==
			0);
	for (int k = 0; k < THREADS; k++)
		pthread_join(th[k], NULL);
	REQUIRE_RC(receipt_snapshot(shared_book, "/even", 1, false, 1, &a), 0);
	for (size_t i = 0; i < a.ndatasets; i++) {
		opens += a.datasets[i].opens;
		bytes += a.datasets[i].bytes;
		/* files i % 700 with i % 3 == dataset: 700 of them */
		CHECK_U64(a.datasets[i].nfiles, 700);
	}
	CHECK_U64(opens, 2 * OPENS);
	CHECK_U64(bytes, 3 * 2 * OPENS);
	receipt_account_release(&a);
	receipt_book_free(shared_book);
}

/* ------------------------------------------------------- signatures -- */

static char *edit_json(const char *text, const char *path_key, json_t *value)
{
	json_error_t err;
	json_t *d = json_loads(text, 0, &err),
	       *r = json_object_get(d, "receipt");
	char *out;

	json_object_set_new(r, path_key, value);
	out = json_dumps(d, JSON_INDENT(2));
	json_decref(d);
	return out;
}

static void test_signature(void)
{
	static const char body[] =
	    "{\"cgroup\": \"/job/a\", \"datasets\": [{\"name\": \"law\", "
	    "\"license\": \"CC-BY-4.0\", \"opens\": 2, \"files\": "
	    "[{\"path\": \"/datasets/law/\u00e9.txt\", \"size\": 7}]}]}";
	repo_key_t *key = NULL, *other = NULL;
	char *sealed = NULL, *canon = NULL, *text, id[AUTH_KEY_ID_LEN + 1];
	json_error_t err;
	json_t *d;

	REQUIRE_RC(repo_key_generate(&key), 0);
	REQUIRE_RC(repo_key_generate(&other), 0);
	REQUIRE_RC(auth_receipt_seal(key, body, &sealed), 0);
	CHECK_RC(auth_receipt_verify(key, sealed, strlen(sealed), &canon), 0);
	/* what was signed: the body, compact, keys sorted */
	CHECK(canon &&
	      !strncmp(canon, "{\"cgroup\":\"/job/a\",\"datasets\":", 30));
	free(canon);
	REQUIRE_RC(auth_key_id(key, id), 0);
	CHECK(strstr(sealed, id) != NULL);
	/* re-encoded (another indentation, keys sorted): still valid */
	d = json_loads(sealed, 0, &err);
	text = json_dumps(d, JSON_SORT_KEYS | JSON_INDENT(5));
	CHECK_RC(auth_receipt_verify(key, text, strlen(text), NULL), 0);
	free(text);
	json_decref(d);
	/* edited */
	text = edit_json(sealed, "cgroup", json_string("/job/b"));
	CHECK_RC(auth_receipt_verify(key, text, strlen(text), NULL), -EBADMSG);
	free(text);
	text = edit_json(sealed, "extra", json_true());
	CHECK_RC(auth_receipt_verify(key, text, strlen(text), NULL), -EBADMSG);
	free(text);
	/* another key */
	CHECK_RC(auth_receipt_verify(other, sealed, strlen(sealed), NULL),
		 -EKEYREJECTED);
	/* malformed: a duplicate key, a member too many, not JSON */
	text = xasprintf("{\"receipt\": {\"a\": 1, \"a\": 2}, \"signature\": "
			 "null}");
	CHECK_RC(auth_receipt_verify(key, text, strlen(text), NULL), -EINVAL);
	free(text);
	text = xasprintf("{\"receipt\": {}, \"signature\": null, \"x\": 1}");
	CHECK_RC(auth_receipt_verify(key, text, strlen(text), NULL), -EINVAL);
	free(text);
	CHECK_RC(auth_receipt_verify(key, "{", 1, NULL), -EINVAL);
	CHECK_RC(auth_receipt_seal(key, "[1]", &text), -EINVAL);
	/* unsigned */
	free(sealed);
	REQUIRE_RC(auth_receipt_seal(NULL, body, &sealed), 0);
	CHECK(strstr(sealed, "\"signature\": null") != NULL);
	CHECK_RC(auth_receipt_verify(key, sealed, strlen(sealed), NULL),
		 -ENOKEY);
	free(sealed);
	repo_key_free(key);
	repo_key_free(other);
}

int main(void)
{
	log_init("test_receipt", LOG_LEVEL_ERROR, false);
	RUN(test_counts);
	RUN(test_limits);
	RUN(test_reset);
	RUN(test_cgroups);
	RUN(test_concurrent);
	RUN(test_signature);
	return unit_result();
}
