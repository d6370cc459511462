/*
 * HTTP proxies for fetches, in CVMFS's syntax: "A|B;C|D;DIRECT". Groups
 * are separated by ';' and tried in order (failover); the proxies of a
 * group, separated by '|', share the load: each origin starts on a
 * random member, so a fleet of nodes spreads over the group. DIRECT
 * means no proxy. When a proxy cannot be reached, the origin moves to
 * the next member of the group, then to the next group, and stays
 * there; after ORIGIN_PROXY_RESET seconds it returns to the first group
 * (CVMFS's proxy reset), so a proxy back from maintenance gets its
 * clients back.
 *
 * Without proxy=, libcurl's own rules apply: the http_proxy, https_proxy
 * and no_proxy variables.
 */
#define _GNU_SOURCE
#include "origin_int.h"
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

#define ORIGIN_PROXY_RESET 300 /* seconds before trying the first group */

static time_t now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

int origin_proxy_setup(origin_t *o, const char *spec)
{
	const char *p = spec;
	unsigned group = 0;

	if (!spec || !*spec)
		return 0;
	while (*p) {
		size_t n = strcspn(p, "|;");
		char *url = xstrndup(p, n);
		char *shown = origin_redact_url(url);

		if (!n || strchr(url, ' ') || strchr(url, ',')) {
			log_error("proxy list '%s': empty or malformed entry "
				  "'%s' (want URL|URL;URL, or DIRECT)",
				  spec, shown);
			free(url);
			free(shown);
			return -EINVAL;
		}
		if (strcasecmp(url, "DIRECT") && !strstr(url, "://")) {
			/* "host:port", as CVMFS and curl accept it */
			char *full = xasprintf("http://%s", url);

			free(url);
			url = full;
		}
		if (strcasecmp(url, "DIRECT") &&
		    strncasecmp(url, "http://", 7) &&
		    strncasecmp(url, "https://", 8)) {
			log_error("proxy '%s' is not http://HOST:PORT, "
				  "https://HOST:PORT or DIRECT",
				  shown);
			free(url);
			free(shown);
			return -EINVAL;
		}
		free(shown);
		o->proxies = xrealloc(o->proxies,
				      (o->nproxies + 1) * sizeof(*o->proxies));
		o->proxies[o->nproxies].url =
		    strcasecmp(url, "DIRECT") ? url : NULL;
		if (!o->proxies[o->nproxies].url)
			free(url);
		o->proxies[o->nproxies].group = group;
		o->nproxies++;
		p += n;
		if (*p == ';')
			group++;
		if (*p)
			p++;
	}
	/* start on a random member of the first group */
	{
		size_t members = 0;

		while (members < o->nproxies && o->proxies[members].group == 0)
			members++;
		o->proxy_first =
		    (size_t)((unsigned)getpid() ^ (unsigned)now_mono()) %
		    members;
		o->proxy_current = o->proxy_first;
	}
	return 0;
}

size_t origin_proxy_pick(origin_t *o, const char **url)
{
	size_t i;

	pthread_mutex_lock(&o->pool_lock);
	if (o->proxy_current != o->proxy_first && o->proxy_since &&
	    now_mono() - o->proxy_since > ORIGIN_PROXY_RESET) {
		o->proxy_current = o->proxy_first;
		o->proxy_since = 0;
	}
	i = o->proxy_current;
	pthread_mutex_unlock(&o->pool_lock);
	*url = o->proxies[i].url;
	return i;
}

void origin_proxy_failed(origin_t *o, size_t i, const char *why)
{
	const char *from, *to;
	char *a, *b;

	pthread_mutex_lock(&o->pool_lock);
	if (o->proxy_current != i) {
		/* another thread moved on already */
		pthread_mutex_unlock(&o->pool_lock);
		return;
	}
	o->proxy_current = (i + 1) % o->nproxies;
	o->proxy_since = now_mono();
	from = o->proxies[i].url;
	to = o->proxies[o->proxy_current].url;
	stat_add(&o->proxy_failovers, 1);
	pthread_mutex_unlock(&o->pool_lock);
	a = from ? origin_redact_url(from) : xstrdup("DIRECT");
	b = to ? origin_redact_url(to) : xstrdup("DIRECT");
	log_warn("proxy '%s' failed (%s); now using '%s'", a, why, b);
	free(a);
	free(b);
}

void origin_proxy_release(origin_t *o)
{
	for (size_t i = 0; i < o->nproxies; i++)
		free(o->proxies[i].url);
	free(o->proxies);
	o->proxies = NULL;
	o->nproxies = 0;
}
