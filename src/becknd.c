/*
 * becknd.c - entry point: subcommand dispatch, version and help.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct subcommand {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*usage;
} subcommands[] = {
	{ "keygen", cli_keygen,
	  "keygen\n"
	  "      Generate an ed25519 key pair. Prints two lines:\n"
	  "        signing_private_key=<base64 of 64 bytes: seed || public>\n"
	  "        signing_public_key=<base64 of 32 bytes>\n" },
	{ "sign", cli_sign,
	  "sign --private-key KEY --subscriber-id SUB --key-id KID\n"
	  "     [--created UNIX] [--expires UNIX] < body\n"
	  "      Sign the raw bytes of stdin and print the Authorization header\n"
	  "      value on one line. KEY is base64 (64-byte seed||public or\n"
	  "      32-byte seed) or PEM, or @path of a file holding it.\n"
	  "      created defaults to now, expires to created + 300.\n" },
	{ "verify", cli_verify,
	  "verify --public-key KEY --authorization 'Signature ...'\n"
	  "       [--now UNIX] [--skew SECONDS] [--digest 'BLAKE-512=...'] < body\n"
	  "      Verify a header against the raw bytes of stdin. Exit 0 and\n"
	  "      \"ok\", or exit 1 and one line naming the reason. KEY is base64\n"
	  "      (32 bytes) or PEM, or @path. skew defaults to 5 seconds.\n" },
	{ "validate", cli_validate,
	  "validate [--spec FILE...] [--action ACTION] [--any-version]\n"
	  "         [--formats assert|ignore|LIST] < body\n"
	  "  becknd validate --json-schema FILE [--formats ...] < instance\n"
	  "      Validate a Beckn message against OpenAPI specs (default:\n"
	  "      the built-in core 1.1.0 + ONEST schemas), or a value\n"
	  "      against a JSON Schema. --any-version: ignore\n"
	  "      context.version (the action picks the schema; layers\n"
	  "      still match their domains). Exit 0 and {\"valid\":true};\n"
	  "      exit 1 and {\"valid\":false,\"errors\":[...]}; exit 2 and\n"
	  "      file:line: reason when a spec cannot be used.\n" },
	{ "lookup", cli_lookup,
	  "lookup -c CONFIG SUBSCRIBER_ID [KEY_ID]\n"
	  "      Print the registry record becknd would use for a subscriber\n"
	  "      (and key), or why there is none.\n" },
	{ "register", cli_register,
	  "register -c CONFIG [-f FILE] [--valid-for DURATION]\n"
	  "      Add (or update) the configuration's participants in a file\n"
	  "      registry (registry.file, or FILE): one SUBSCRIBED record per\n"
	  "      participant and domain with its public key, valid for a year\n"
	  "      by default.\n" },
	{ "journal", cli_journal,
	  "journal list|show|export|redeliver|verification-logs\n"
	  "        (-c CONFIG | --store PATH) [options]\n"
	  "      Read the message journal (the store file): list messages,\n"
	  "      show a transaction's timeline, export CSV or JSON lines,\n"
	  "      redeliver a dead letter, write ONEST verification logs.\n"
	  "      See becknd journal --help.\n" },
};

#define NSUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

static void
usage(FILE *f)
{
	size_t	 i;

	fprintf(f, "usage: becknd -c CONFIG [-t]\n"
	    "       becknd [--version | --help]\n"
	    "       becknd SUBCOMMAND [options]\n\n"
	    "  becknd -c CONFIG\n"
	    "      Run the adaptor with the YAML configuration CONFIG.\n"
	    "  becknd -c CONFIG -t\n"
	    "      Check CONFIG (keys, files, key pairs, schemas, listeners)\n"
	    "      and exit 0, or print file:line: reason and exit 1.\n"
	    "\nSubcommands:\n");
	for (i = 0; i < NSUBCOMMANDS; i++)
		fprintf(f, "  becknd %s\n", subcommands[i].usage);
}

int
main(int argc, char **argv)
{
	size_t	 i;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("becknd %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (argv[1][0] == '-' && argv[1][1] != '-')
		return cli_daemon(argc, argv);
	for (i = 0; i < NSUBCOMMANDS; i++)
		if (strcmp(argv[1], subcommands[i].name) == 0)
			return subcommands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "becknd: unknown subcommand \"%s\" (see becknd --help)\n",
	    argv[1]);
	return 2;
}
