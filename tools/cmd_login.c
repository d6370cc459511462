/* `aidata login`, `logout`, `whoami`: a member's credential on a mount.
 * The daemon takes the uid from the request that writes .aidata/login,
 * so a user can only ever bind or see their own credential. */
#include "commands.h"
#include "fsutil.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

#define TOKEN_MAX 16384

static const char *parse_mount(int argc, char **argv, const char *usage)
{
	static const struct option longopts[] = {
	    {"mount", required_argument, NULL, 'm'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *mnt = "/mnt/aidata";
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'm') {
			mnt = optarg;
		} else if (c == 'h') {
			printf("%s", usage);
			exit(0);
		} else {
			fprintf(stderr, "%s", usage);
			return NULL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s", usage);
		return NULL;
	}
	return mnt;
}

static int write_login(const char *mnt, const char *data, size_t len)
{
	char *path = xasprintf("%s/.aidata/login", mnt);
	int fd = open(path, O_WRONLY | O_CLOEXEC), rc = 0;

	if (fd < 0) {
		rc = -errno;
		fprintf(stderr,
			"aidata: '%s': %s (is an aidatafs mount there?)\n",
			path, strerror(errno));
		free(path);
		return rc;
	}
	/* one write: the daemon takes the whole token from it */
	if (write(fd, data, len) != (ssize_t)len)
		rc = -errno;
	if (close(fd) != 0 && !rc)
		rc = -errno;
	free(path);
	return rc;
}

static int show_whoami(const char *mnt)
{
	char *path = xasprintf("%s/.aidata/whoami", mnt), *text = NULL;
	size_t len;
	int rc = fs_read_file(path, 1 << 20, &text, &len);

	if (rc)
		fprintf(stderr, "aidata: '%s': %s\n", path, strerror(-rc));
	else
		fwrite(text, 1, len, stdout);
	free(text);
	free(path);
	return rc;
}

int cmd_login(int argc, char **argv)
{
	static const char usage[] =
	    "usage: aidata login [--mount DIR] < token\n\n"
	    "Bind the credential (a JWT on standard input) to you on the "
	    "mount at DIR\n(default /mnt/aidata). It is verified by the "
	    "daemon and kept until it\nexpires or you log out.\n";
	const char *mnt = parse_mount(argc, argv, usage);
	char *token = xmalloc(TOKEN_MAX + 1);
	size_t len = 0;
	int rc;

	if (!mnt) {
		free(token);
		return 2;
	}
	while (len < TOKEN_MAX) {
		ssize_t n = read(STDIN_FILENO, token + len, TOKEN_MAX - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	while (len && (token[len - 1] == '\n' || token[len - 1] == ' ' ||
		       token[len - 1] == '\r'))
		len--;
	if (len == 0 || len >= TOKEN_MAX) {
		fprintf(stderr, "aidata login: expected one token on standard "
				"input\n");
		free(token);
		return 2;
	}
	rc = write_login(mnt, token, len);
	explicit_bzero(token, TOKEN_MAX + 1);
	free(token);
	if (rc) {
		fprintf(stderr, "aidata login: refused: %s\n",
			rc == -EACCES ? "the credential does not verify, has "
					"expired or is revoked (see the "
					"daemon's log)"
				      : strerror(-rc));
		return 1;
	}
	return show_whoami(mnt) ? 1 : 0;
}

int cmd_logout(int argc, char **argv)
{
	static const char usage[] =
	    "usage: aidata logout [--mount DIR]\n\nDrop your credential "
	    "binding on the mount at DIR.\n";
	const char *mnt = parse_mount(argc, argv, usage);
	int rc;

	if (!mnt)
		return 2;
	rc = write_login(mnt, "logout\n", 7);
	if (rc) {
		fprintf(stderr, "aidata logout: %s\n", strerror(-rc));
		return 1;
	}
	printf("logged out\n");
	return 0;
}

int cmd_whoami(int argc, char **argv)
{
	static const char usage[] =
	    "usage: aidata whoami [--mount DIR]\n\nShow the claims of the "
	    "credential the mount uses for you (never the token).\n";
	const char *mnt = parse_mount(argc, argv, usage);

	if (!mnt)
		return 2;
	return show_whoami(mnt) ? 1 : 0;
}
