/* `aidata push`: publish a local repository into an object store bucket
 * (publish_push; push.c says how). */
#include "commands.h"
#include "log.h"
#include "origin.h"
#include "publish.h"
#include "repo.h"
#include "units.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "banned.h"

int cmd_push(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"pubkey", required_argument, NULL, 'p'},
	    {"part-size", required_argument, NULL, 'P'},
	    {"force-unlock", no_argument, NULL, 'F'},
	    {"endpoint", required_argument, NULL, 'e'},
	    {"region", required_argument, NULL, 'r'},
	    {"virtual-host", no_argument, NULL, 'v'},
	    {"ca", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static const char usage[] =
	    "usage: aidata push REPO s3://BUCKET/PREFIX --pubkey platform.pub\n"
	    "                   [--part-size SIZE] [--force-unlock]\n"
	    "                   [--endpoint URL] [--region NAME] "
	    "[--virtual-host] [--ca FILE]\n\n"
	    "Publish the local repository REPO (aidata pack --out) into "
	    "the bucket: only\nthe objects the bucket lacks, large ones "
	    "with a multipart upload (parts of\nSIZE, default 64M), the "
	    "signed manifest last, under the lock object\nPREFIX/lock. "
	    "Re-run after a failure to resume. Credentials and the store\n"
	    "as for every s3:// repository: AWS_ACCESS_KEY_ID, "
	    "AWS_SECRET_ACCESS_KEY,\nAWS_SESSION_TOKEN, "
	    "AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE, AWS_ENDPOINT_URL,\n"
	    "AWS_REGION.\n";
	struct origin_s3_options s3 = {0};
	struct publish_push_options po = {.retries = 3};
	struct publish_push_result res;
	const char *pubfile = NULL;
	repo_key_t *pub = NULL;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pubfile = optarg;
			break;
		case 'P':
			if (units_parse_size(optarg, &po.part_size) ||
			    po.part_size < (5u << 20)) {
				fprintf(stderr,
					"aidata push: --part-size '%s': "
					"expected a size of at least 5M\n",
					optarg);
				return 2;
			}
			break;
		case 'F':
			po.force_unlock = true;
			break;
		case 'e':
			s3.endpoint = optarg;
			break;
		case 'r':
			s3.region = optarg;
			break;
		case 'v':
			s3.virtual_host = true;
			break;
		case 'c':
			po.ca_file = optarg;
			break;
		case 'h':
			printf("%s", usage);
			return 0;
		default:
			fprintf(stderr, "%s", usage);
			return 2;
		}
	}
	if (!pubfile || argc - optind != 2) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	log_init("aidata push", LOG_LEVEL_INFO, false);
	po.repo = argv[optind];
	po.url = argv[optind + 1];
	po.s3 = &s3;
	rc = repo_key_load_public(pubfile, &pub);
	if (rc) {
		fprintf(stderr, "aidata push: public key '%s': %s\n", pubfile,
			rc == -EINVAL ? "not a PEM Ed25519 public key"
				      : strerror(-rc));
		return 1;
	}
	po.pubkey = pub;
	rc = publish_push(&po, &res);
	if (!rc)
		printf("pushed revision %" PRIu64 " (bucket had %" PRIu64
		       "): %" PRIu64 " objects, %" PRIu64 " uploaded (%" PRIu64
		       " bytes), %" PRIu64 " already there\n",
		       res.revision, res.remote_revision, res.objects,
		       res.uploaded, res.bytes_uploaded, res.skipped);
	repo_key_free(pub);
	return rc ? 1 : 0;
}
