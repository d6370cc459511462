/*
 * `aidata receipt`: a job's data receipt from a mount (which datasets,
 * files and licenses the processes of a cgroup opened), read from
 * MOUNT/.aidata/receipt, another cgroup's or a reset asked for with
 * AIDATAFS_IOC_RECEIPT (fs/uapi/aidatafs_ioctl.h); and `aidata receipt
 * verify`, which checks a receipt's signature for a third party.
 */
#define _GNU_SOURCE
#include "aidatafs_ioctl.h"
#include "auth.h"
#include "cgroup.h"
#include "commands.h"
#include "fsutil.h"
#include "mount_walk.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

#define RECEIPT_READ_MAX (512u << 20)

static const char usage_text[] =
    "usage: aidata receipt [--mount DIR] [--cgroup PATH] [--reset] "
    "[--out FILE]\n"
    "       aidata receipt verify FILE --pubkey receipt.pub\n"
    "\n"
    "Print the data receipt of a job (JSON): per dataset (name, revision, "
    "catalog,\ntier, license) the files its processes opened on the "
    "mount at DIR (default\n/mnt/aidata), with their SHA-256, how often, "
    "and the bytes the daemon served\nfor them. A job is a cgroup; by "
    "default yours (the one this command runs in).\n"
    "\n"
    "  --mount DIR     the aidatafs mount (default /mnt/aidata)\n"
    "  --cgroup PATH   another cgroup: as in /proc/PID/cgroup "
    "(/slurm/job_42), or\n"
    "                  its directory under the cgroup2 mount "
    "(/sys/fs/cgroup/...)\n"
    "  --reset         start the cgroup's account afresh; prints the "
    "account it\n"
    "                  closed\n"
    "  --out FILE      write the receipt to FILE instead of standard "
    "output\n"
    "\n"
    "You may read your own cgroup's receipt (not the root cgroup's), "
    "those of\ncgroups whose directory you own, and root any. The "
    "receipt is signed when\nthe mount has -o receipt_key=FILE; verify "
    "it with the public half:\n"
    "\n"
    "  verify FILE --pubkey PUB   check FILE ('-': standard input) was "
    "signed by\n"
    "                             PUB's key and not changed since\n"
    "\n"
    "Exit status: 0; 1 on failure (not a mount, not your cgroup, a "
    "receipt that\ndoes not verify); 2 for a usage error.\n";

static const char verify_usage[] =
    "usage: aidata receipt verify FILE --pubkey receipt.pub\n"
    "\n"
    "Check that FILE ('-': standard input) is a data receipt signed by "
    "the key\nwhose public half is receipt.pub (aidata keygen --name "
    "receipt), unchanged\nsince (re-indenting the JSON is fine), and "
    "say what it covers.\n"
    "\n"
    "  --pubkey FILE   the node's receipt public key\n"
    "\n"
    "Exit status: 0 when it verifies; 1 when it does not (forged, "
    "edited,\nunsigned, signed by another key, malformed), with the "
    "reason; 2 for a\nusage error.\n";

/* PATH as the mount wants it: relative to the cgroup2 mount point. */
static char *cgroup_arg(const char *path)
{
	char *root = cgroup_v2_root(), *out;
	size_t n = root ? strlen(root) : 0;

	if (root && !strncmp(path, root, n) &&
	    (path[n] == '/' || path[n] == '\0'))
		out = xstrdup(path[n] ? path + n : "/");
	else
		out = xstrdup(path);
	free(root);
	/* "/a/b/" names /a/b */
	for (size_t k = strlen(out); k > 1 && out[k - 1] == '/'; k--)
		out[k - 1] = '\0';
	return out;
}

static int read_fd(int fd, char **text, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *b = xmalloc(cap + 1);

	for (;;) {
		ssize_t r;

		if (n == cap) {
			if (cap >= RECEIPT_READ_MAX) {
				free(b);
				return -EFBIG;
			}
			cap *= 2;
			b = xrealloc(b, cap + 1);
		}
		r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int rc = -errno;

			free(b);
			return rc;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	b[n] = '\0';
	*text = b;
	*len = n;
	return 0;
}

static int receipt_get(const char *mnt, const char *cgroup, bool reset,
		       const char *out)
{
	char *root = NULL, *path = NULL, *text = NULL;
	struct aidatafs_ioc_receipt *io = NULL;
	size_t len = 0;
	int fd = -1, rc = 1;

	if (mount_root(mnt, &root))
		return 1;
	path = xasprintf("%s/.aidata/receipt", root);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "aidata receipt: '%s': %s\n", path,
			errno == ENOENT ? "the mount keeps no receipts (too "
					  "old an aidatafs)"
					: strerror(errno));
		goto out;
	}
	if (cgroup || reset) {
		io = xcalloc(1, sizeof(*io));
		io->flags = reset ? AIDATAFS_RECEIPT_RESET : 0;
		if (cgroup) {
			char *c = cgroup_arg(cgroup);

			if (strlen(c) >= sizeof(io->cgroup)) {
				fprintf(stderr,
					"aidata receipt: cgroup path too "
					"long\n");
				free(c);
				goto out;
			}
			memcpy(io->cgroup, c, strlen(c) + 1);
			free(c);
		}
		if (ioctl(fd, AIDATAFS_IOC_RECEIPT, io) != 0) {
			const char *why =
			    errno == EACCES ? "not yours (your own cgroup, one "
					      "whose directory you own; root "
					      "reads any)"
			    : errno == EINVAL ? "not a cgroup path"
			    : errno == ENOTTY ? "the mount does not take "
						"receipt requests (too old an "
						"aidatafs)"
					      : strerror(errno);

			if (cgroup)
				fprintf(stderr,
					"aidata receipt: cgroup '%s': %s\n",
					io->cgroup, why);
			else
				fprintf(stderr, "aidata receipt: %s\n", why);
			goto out;
		}
	}
	rc = read_fd(fd, &text, &len);
	if (rc) {
		fprintf(stderr, "aidata receipt: '%s': %s\n", path,
			strerror(-rc));
		rc = 1;
		goto out;
	}
	if (out) {
		rc = fs_write_atomic(out, text, len, 0644);
		if (rc)
			fprintf(stderr, "aidata receipt: '%s': %s\n", out,
				strerror(-rc));
		rc = rc ? 1 : 0;
	} else {
		rc = fwrite(text, 1, len, stdout) == len ? 0 : 1;
	}
out:
	if (fd >= 0)
		close(fd);
	free(io);
	free(text);
	free(path);
	free(root);
	return rc;
}

/* What a verified body says, in one line. */
static void verified_line(const char *file, const char *body,
			  const char *key_id)
{
	json_error_t err;
	json_t *b = json_loads(body, 0, &err), *d;
	uint64_t files = 0;
	size_t i;

	json_array_foreach(json_object_get(b, "datasets"), i, d) files +=
	    (uint64_t)json_integer_value(json_object_get(d, "files_listed"));
	printf("%s: valid receipt of cgroup '%s' on node '%s', %s to %s: "
	       "%zu datasets, %" PRIu64 " files listed; signed by key %s\n",
	       file, json_string_value(json_object_get(b, "cgroup")),
	       json_string_value(json_object_get(b, "node")),
	       json_string_value(json_object_get(b, "started")),
	       json_string_value(json_object_get(b, "issued")),
	       json_array_size(json_object_get(b, "datasets")), files, key_id);
	json_decref(b);
}

static int receipt_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"pubkey", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *pubfile = NULL, *file;
	char *text = NULL, *body = NULL, id[AUTH_KEY_ID_LEN + 1];
	repo_key_t *pub = NULL;
	size_t len = 0;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'p') {
			pubfile = optarg;
		} else if (c == 'h') {
			printf("%s", verify_usage);
			return 0;
		} else {
			fprintf(stderr, "%s", verify_usage);
			return 2;
		}
	}
	if (optind != argc - 1 || !pubfile) {
		fprintf(stderr, "%s", verify_usage);
		return 2;
	}
	file = argv[optind];
	rc = repo_key_load_public(pubfile, &pub);
	if (rc) {
		fprintf(stderr, "aidata receipt verify: public key '%s': %s\n",
			pubfile,
			rc == -EINVAL ? "not a PEM Ed25519 public key"
				      : strerror(-rc));
		return 1;
	}
	rc = strcmp(file, "-")
		 ? fs_read_file(file, RECEIPT_READ_MAX, &text, &len)
		 : read_fd(STDIN_FILENO, &text, &len);
	if (rc) {
		fprintf(stderr, "aidata receipt verify: '%s': %s\n", file,
			strerror(-rc));
		repo_key_free(pub);
		return 1;
	}
	rc = auth_receipt_verify(pub, text, len, &body);
	auth_key_id(pub, id);
	if (rc == 0)
		verified_line(file, body, id);
	else
		fprintf(stderr, "aidata receipt verify: '%s': %s\n", file,
			rc == -EBADMSG ? "DOES NOT VERIFY: forged, or changed "
					 "since it was signed"
			: rc == -EKEYREJECTED
			    ? "signed by another key than this one"
			: rc == -ENOKEY ? "unsigned (the mount had no "
					  "receipt_key)"
			: rc == -EINVAL ? "not a receipt (malformed)"
					: strerror(-rc));
	free(body);
	free(text);
	repo_key_free(pub);
	return rc ? 1 : 0;
}

int cmd_receipt(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"mount", required_argument, NULL, 'm'},
	    {"cgroup", required_argument, NULL, 'c'},
	    {"reset", no_argument, NULL, 'r'},
	    {"out", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *mnt = "/mnt/aidata", *cgroup = NULL, *out = NULL;
	bool reset = false;
	int c;

	if (argc >= 2 && !strcmp(argv[1], "verify"))
		return receipt_verify(argc - 1, argv + 1);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			mnt = optarg;
			break;
		case 'c':
			cgroup = optarg;
			break;
		case 'r':
			reset = true;
			break;
		case 'o':
			out = optarg;
			break;
		case 'h':
			printf("%s", usage_text);
			return 0;
		default:
			fprintf(stderr, "%s", usage_text);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s", usage_text);
		return 2;
	}
	return receipt_get(mnt, cgroup, reset, out);
}
