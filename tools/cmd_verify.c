/* `aidata verify`: check everything a repository's manifest reaches. */
#include "commands.h"
#include "auth.h"
#include "publish.h"
#include "repo_local.h"
#include "xalloc.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

struct verify_ctx {
	struct local_repo *r;
	const char *key_file; /* platform key: its dataset keys, or NULL */
	uint64_t problems;
	uint64_t chunks;
	uint64_t bytes;
	uint64_t unchecked; /* encrypted chunks without their key */
	uint8_t *buf;
};

static int verify_dataset(void *arg, const struct repo_dataset *d)
{
	struct verify_ctx *v = arg;
	repo_catalog_t *cat = NULL;
	uint32_t count = 0, bad = 0, unchecked = 0, framed = 0;
	uint8_t key[AUTH_DATASET_KEY_LEN];
	bool have_key = false;
	char hex[DIGEST_HEX_LEN + 1];

	digest_to_hex(&d->catalog, hex);
	if (local_repo_dataset_catalog(v->r, d, &cat) != 0) {
		fprintf(stderr,
			"verify: dataset '%s': catalog 'catalog/%s' is "
			"missing or corrupt\n",
			d->name, hex);
		v->problems++;
		return 0;
	}
	if (repo_catalog_chunk_count(cat, &count) != 0) {
		fprintf(stderr,
			"verify: dataset '%s': unreadable chunk table\n",
			d->name);
		v->problems++;
	}
	for (uint32_t id = 0; id < count; id++) {
		struct repo_chunk c;

		if (repo_catalog_chunk(cat, id, &c) != 0) {
			fprintf(stderr,
				"verify: dataset '%s': chunk record %u is "
				"missing or malformed\n",
				d->name, id);
			bad++;
			continue;
		}
		if (c.flags & REPO_CHUNK_ENCRYPTED) {
			if (!have_key && v->key_file &&
			    publish_dataset_key_get(v->key_file, d->name, false,
						    key) == 0)
				have_key = true;
			if (!have_key) {
				unchecked++;
				continue;
			}
		}
		/* with the dataset key for an encrypted chunk */
		if (local_repo_read_chunk(v->r, &c, have_key ? key : NULL,
					  v->buf) != 0) {
			/* local_repo_read_chunk named the chunk and shard */
			bad++;
			continue;
		}
		/* checked by its stored digest: its content digest too */
		if (repo_chunk_frame_checked(&c)) {
			struct digest got;

			sha256_buffer(v->buf, c.size, &got);
			if (!digest_equal(&got, &c.digest)) {
				char chex[DIGEST_HEX_LEN + 1];

				digest_to_hex(&c.digest, chex);
				fprintf(stderr,
					"verify: dataset '%s': chunk '%s' "
					"decodes to other bytes than its "
					"digest says\n",
					d->name, chex);
				bad++;
				continue;
			}
			framed++;
		}
		v->chunks++;
		v->bytes += c.size;
	}
	v->problems += bad;
	v->unchecked += unchecked;
	explicit_bzero(key, sizeof(key));
	printf("dataset %-28s %s  catalog %.16s…  %u chunks%s", d->name,
	       repo_tier_name(d->tier), hex, count,
	       bad ? "  PROBLEMS" : "  ok");
	if (unchecked)
		printf(" (%u encrypted, not checked: no dataset key, see "
		       "--key)",
		       unchecked);
	if (framed)
		printf(" (%u with a frame digest: both digests checked)",
		       framed);
	putchar('\n');
	repo_catalog_free(cat);
	return 0;
}

int cmd_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"pubkey", required_argument, NULL, 'p'},
	    {"key", required_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *pubkey = NULL;
	struct verify_ctx v = {0};
	repo_key_t *key = NULL;
	char hex[DIGEST_HEX_LEN + 1];
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'p') {
			pubkey = optarg;
		} else if (c == 'k') {
			v.key_file = optarg;
		} else if (c == 'h') {
			printf(
			    "usage: aidata verify REPO --pubkey platform.pub "
			    "[--key platform.key]\n"
			    "\nCheck the manifest signature, every catalog's "
			    "digest and every chunk\nof every shard. Names "
			    "each problem; exits 1 if there is any.\n"
			    "Encrypted (secure-tier) chunks are checked only "
			    "with "
			    "--key:\nthe publisher's dataset keys kept beside "
			    "the "
			    "platform key.\n");
			return 0;
		} else {
			goto usage;
		}
	}
	if (!pubkey || optind != argc - 1)
		goto usage;
	rc = repo_key_load_public(pubkey, &key);
	if (rc) {
		fprintf(stderr, "aidata verify: public key '%s': %s\n", pubkey,
			rc == -EINVAL ? "not a PEM Ed25519 public key"
				      : strerror(-rc));
		return 1;
	}
	rc = local_repo_open(argv[optind], key, &v.r);
	if (rc) {
		if (rc == -ENOENT)
			fprintf(stderr, "verify: '%s/manifest': missing\n",
				argv[optind]);
		fprintf(stderr, "verify: '%s': FAILED\n", argv[optind]);
		repo_key_free(key);
		return 1;
	}
	digest_to_hex(&v.r->manifest.root_catalog, hex);
	printf("manifest revision %" PRIu64 ": signature ok, root catalog "
	       "%.16s… ok\n",
	       v.r->manifest.revision, hex);
	v.buf = xmalloc(REPO_CHUNK_MAX);
	rc = repo_catalog_datasets(v.r->root_catalog, verify_dataset, &v);
	if (rc) {
		fprintf(stderr,
			"verify: root catalog: cannot list datasets: "
			"%s\n",
			strerror(-rc));
		v.problems++;
	}
	if (v.problems)
		fprintf(stderr, "verify: '%s': FAILED, %" PRIu64 " problems\n",
			argv[optind], v.problems);
	else
		printf("verify: '%s': ok, %" PRIu64 " chunks, %" PRIu64
		       " bytes checked%s\n",
		       argv[optind], v.chunks, v.bytes,
		       v.unchecked ? "; encrypted chunks not checked (no "
				     "dataset keys)"
				   : "");
	free(v.buf);
	local_repo_free(v.r);
	repo_key_free(key);
	return v.problems ? 1 : 0;
usage:
	fprintf(stderr, "usage: aidata verify REPO --pubkey platform.pub\n");
	return 2;
}
