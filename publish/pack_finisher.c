/*
 * The packer's finisher: one thread that runs, in the order queued, the
 * slow ends of a shard or a catalog (fsync, compaction, rename), so the
 * packing thread goes on with the next one meanwhile instead of waiting
 * for the disk.
 */
#include "publish_int.h"
#include "xalloc.h"

#include <errno.h>
#include <stdlib.h>

#include "banned.h"

/* Tasks waiting at most: a shard's task holds an open file. */
#define FINISHER_QUEUE 8

struct task {
	pack_finisher_fn fn;
	void *arg;
};

struct pack_finisher {
	pthread_mutex_t lock;
	pthread_cond_t queued; /* a task was queued, or stop */
	pthread_cond_t ran;    /* a task ran */
	pthread_t thread;
	struct task ring[FINISHER_QUEUE];
	unsigned head, count; /* the waiting tasks: ring[head..] */
	bool running;	      /* a task taken from the ring runs */
	bool stop;
	int rc; /* the first task's error */
};

static void *finisher_main(void *arg)
{
	struct pack_finisher *f = arg;

	pthread_mutex_lock(&f->lock);
	for (;;) {
		struct task t;
		int rc;

		while (!f->stop && f->count == 0)
			pthread_cond_wait(&f->queued, &f->lock);
		if (f->count == 0)
			break;
		t = f->ring[f->head];
		f->head = (f->head + 1) % FINISHER_QUEUE;
		f->count--;
		f->running = true;
		pthread_mutex_unlock(&f->lock);

		rc = t.fn(t.arg);

		pthread_mutex_lock(&f->lock);
		f->running = false;
		if (rc && !f->rc)
			f->rc = rc;
		pthread_cond_broadcast(&f->ran);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

int pack_finisher_new(struct pack_finisher **out)
{
	struct pack_finisher *f = xcalloc(1, sizeof(*f));
	int rc;

	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->queued, NULL);
	pthread_cond_init(&f->ran, NULL);
	rc = pthread_create(&f->thread, NULL, finisher_main, f);
	if (rc) {
		pthread_mutex_destroy(&f->lock);
		pthread_cond_destroy(&f->queued);
		pthread_cond_destroy(&f->ran);
		free(f);
		return -rc;
	}
	*out = f;
	return 0;
}

int pack_finisher_submit(struct pack_finisher *f, pack_finisher_fn fn,
			 void *arg)
{
	int rc;

	pthread_mutex_lock(&f->lock);
	while (f->count == FINISHER_QUEUE)
		pthread_cond_wait(&f->ran, &f->lock);
	f->ring[(f->head + f->count) % FINISHER_QUEUE] = (struct task){fn, arg};
	f->count++;
	pthread_cond_signal(&f->queued);
	rc = f->rc;
	pthread_mutex_unlock(&f->lock);
	return rc;
}

int pack_finisher_wait(struct pack_finisher *f)
{
	int rc;

	pthread_mutex_lock(&f->lock);
	while (f->count > 0 || f->running)
		pthread_cond_wait(&f->ran, &f->lock);
	rc = f->rc;
	pthread_mutex_unlock(&f->lock);
	return rc;
}

void pack_finisher_free(struct pack_finisher *f)
{
	if (!f)
		return;
	/* the thread runs what is queued before it stops */
	pthread_mutex_lock(&f->lock);
	f->stop = true;
	pthread_cond_signal(&f->queued);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->queued);
	pthread_cond_destroy(&f->ran);
	free(f);
}
