#include "commands.h"
#include "fsutil.h"
#include "repo.h"
#include "xalloc.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

int cmd_keygen(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"out", required_argument, NULL, 'o'},
	    {"name", required_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *dir = NULL, *name = "platform";
	char *priv = NULL, *pub = NULL;
	repo_key_t *key = NULL;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'o') {
			dir = optarg;
		} else if (c == 'n') {
			name = optarg;
		} else if (c == 'h') {
			printf(
			    "usage: aidata keygen --out DIR [--name NAME]\n\n"
			    "Create DIR/NAME.key (Ed25519 private key, "
			    "PEM, mode 0600)\nand DIR/NAME.pub (its "
			    "public key, PEM). Existing files are never\n"
			    "overwritten. NAME (letters, digits, - and _) "
			    "is platform by default:\nthe key that signs "
			    "a repository; receipt names a node's key for\n"
			    "signing job data receipts (aidatafs -o "
			    "receipt_key=DIR/receipt.key).\n");
			return 0;
		} else {
			goto usage;
		}
	}
	if (!dir || optind != argc || !*name ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789-_") != strlen(name))
		goto usage;
	rc = fs_mkdir_p(dir, 0700);
	if (rc) {
		fprintf(stderr, "aidata keygen: cannot create '%s': %s\n", dir,
			strerror(-rc));
		return 1;
	}
	priv = xasprintf("%s/%s.key", dir, name);
	pub = xasprintf("%s/%s.pub", dir, name);
	if (access(priv, F_OK) == 0 || access(pub, F_OK) == 0) {
		fprintf(stderr,
			"aidata keygen: '%s' or '%s' already exists; not "
			"overwriting a key\n",
			priv, pub);
		rc = -EEXIST;
		goto out;
	}
	rc = repo_key_generate(&key);
	if (!rc) {
		rc = repo_key_write_private(key, priv);
		if (rc)
			fprintf(stderr,
				"aidata keygen: cannot write '%s': %s\n", priv,
				strerror(-rc));
	}
	if (!rc) {
		rc = repo_key_write_public(key, pub);
		if (rc) {
			fprintf(stderr,
				"aidata keygen: cannot write '%s': %s\n", pub,
				strerror(-rc));
			unlink(priv);
		}
	}
	if (!rc)
		printf("wrote '%s' (keep it secret) and '%s'\n", priv, pub);
out:
	repo_key_free(key);
	free(priv);
	free(pub);
	return rc ? 1 : 0;
usage:
	fprintf(stderr, "usage: aidata keygen --out DIR [--name NAME]\n");
	return 2;
}
