/* aidata: the publisher's and operator's command. */
#include "commands.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

#include "banned.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
    {"keygen", cmd_keygen, "create an Ed25519 key pair (platform, receipt)"},
    {"pack", cmd_pack, "pack a source tree into a repository revision"},
    {"push", cmd_push, "publish a local repository into an s3:// bucket"},
    {"verify", cmd_verify, "check a repository's signature and digests"},
    {"ls", cmd_ls, "list a path inside a repository"},
    {"get", cmd_get, "extract a file or tree from a repository"},
    {"token", cmd_token, "issue or show a member credential (JWT)"},
    {"node-keygen", cmd_node_keygen, "create a secure-domain node key pair"},
    {"grant-node", cmd_grant_node, "seal a secure dataset's key to a node"},
    {"revoke", cmd_revoke, "republish the manifest revoking credentials"},
    {"ledger", cmd_ledger, "who contributed what; balances under a policy"},
    {"login", cmd_login, "bind a credential to you on a mount"},
    {"logout", cmd_logout, "drop your credential on a mount"},
    {"whoami", cmd_whoami, "show your credential's claims on a mount"},
    {"prefetch", cmd_prefetch, "fetch paths into a mount's cache"},
    {"status", cmd_status, "show a mount's origin, revision and cache"},
    {"receipt", cmd_receipt, "print or verify a job's data receipt"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: aidata COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-12s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(out, "\n'aidata COMMAND --help' describes one command, "
		     "aidata(1) all of them.\n");
}

int main(int argc, char **argv)
{
	log_init("aidata", LOG_LEVEL_INFO, false);
	/* a command's user reads its messages: no daemon timestamps */
	log_set_plain(true);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("aidata %s\n", AIDATA_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "aidata: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
