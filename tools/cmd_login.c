/* `aidata login`, `logout`, `whoami`: a member's credential on a mount.
 * Requests go as ioctls on .aidata/login (fs/uapi/aidatafs_ioctl.h); the
 * daemon takes the uid from the request, so a user can only ever bind or
 * see their own credential. */
#include "aidatafs_ioctl.h"
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

/* a token and its NUL must fit the request */
#define TOKEN_MAX (AIDATAFS_IOC_DATA_MAX - 1)

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

/*
 * Send request (AIDATAFS_IOC_LOGIN with req's data, or _LOGOUT) on the
 * mount's .aidata/login. 0 or -errno; req->data then holds the daemon's
 * reason for a login.
 */
static int send_request(const char *mnt, unsigned long request,
			struct aidatafs_ioc_data *req)
{
	char *path = xasprintf("%s/.aidata/login", mnt);
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0) {
		rc = -errno;
		fprintf(stderr,
			"aidata: '%s': %s (is an aidatafs mount there?)\n",
			path, strerror(errno));
		free(path);
		return rc;
	}
	if (ioctl(fd, request, req) != 0)
		rc = errno == ENOTTY ? -EPROTO : -errno;
	close(fd);
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
	struct aidatafs_ioc_data *req;
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
		/* (a longer input is not one token: refuse it whole) */
		fprintf(stderr, "aidata login: expected one token on standard "
				"input\n");
		free(token);
		return 2;
	}
	req = xcalloc(1, sizeof(*req));
	memcpy(req->data, token, len);
	explicit_bzero(token, TOKEN_MAX + 1);
	free(token);
	rc = send_request(mnt, AIDATAFS_IOC_LOGIN, req);
	explicit_bzero(req->data, len);
	req->data[sizeof(req->data) - 1] = '\0';
	if (rc == -EACCES || rc == -EINVAL) {
		fprintf(stderr, "aidata login: refused: %s\n", req->data);
		free(req);
		return 1;
	}
	free(req);
	if (rc) {
		fprintf(stderr, "aidata login: %s\n",
			rc == -EPROTO ? "the mount does not take login "
					"requests (not aidatafs, or too old)"
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
	rc = send_request(mnt, AIDATAFS_IOC_LOGOUT, NULL);
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
