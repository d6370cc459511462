/* The aidata subcommands. Each takes the arguments after its name
 * (argv[0] is the subcommand name) and returns the process exit code:
 * 0 on success, 1 on failure, 2 on a usage error. */
#ifndef AIDATA_COMMANDS_H
#define AIDATA_COMMANDS_H

int cmd_keygen(int argc, char **argv);
int cmd_pack(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_node_keygen(int argc, char **argv);
int cmd_grant_node(int argc, char **argv);
int cmd_login(int argc, char **argv);
int cmd_logout(int argc, char **argv);
int cmd_whoami(int argc, char **argv);
int cmd_revoke(int argc, char **argv);
int cmd_push(int argc, char **argv);
int cmd_ledger(int argc, char **argv);
int cmd_prefetch(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_receipt(int argc, char **argv);

#endif
