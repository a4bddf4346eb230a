/*
 * cli.h - the becknd subcommands.
 *
 * Each cli_<name>() receives argv starting at the subcommand name
 * (argv[0] == "sign", ...) and returns the process exit status.  Output
 * formats are a contract that scripts rely on: see becknd --help and the
 * README before changing a byte.
 */
#ifndef BECKND_CLI_H
#define BECKND_CLI_H

#include <stddef.h>
#include <stdio.h>

int	cli_keygen(int, char **);
int	cli_sign(int, char **);
int	cli_verify(int, char **);
int	cli_validate(int, char **);
int	cli_lookup(int, char **);
int	cli_register(int, char **);
/* becknd journal SUB ...: the message journal (cli_journal.c). */
int	cli_journal(int, char **);
/* becknd -c CONFIG [-t]: run the adaptor, or check its configuration. */
int	cli_daemon(int, char **);

/* Helpers shared by subcommands (cli_util.c). */

/* Read all of stdin, byte for byte (no newline handling). NUL-terminated
 * for convenience; *len excludes the NUL. Returns NULL on read error or
 * when more than max bytes arrive. */
char	*cli_read_stdin(size_t max, size_t *len);
/* Read a whole file (same contract). */
char	*cli_read_file(const char *path, size_t max, size_t *len);
/* "VALUE" or "@path": the text of the value, xmalloc'd. NULL and a message
 * on stderr when the file cannot be read. */
char	*cli_value_or_file(const char *arg, size_t *len);
/* Parse a decimal int64; 0 or -1. */
int	 cli_parse_int64(const char *, long long *);
/*
 * Write the JSON text s (valid: jsoncheck() passed) to f re-indented: two
 * spaces a level, "name": value, one member or element a line, {} and []
 * when empty, then a newline.  Strings, numbers and literals are copied
 * byte for byte (nothing is re-encoded).  0, or -1 on a write error.
 */
int	 cli_json_pretty(FILE *f, const char *s, size_t len);
/* The text of member key of o (a string, or a number's digits); NULL
 * when absent or null. */
struct json_object;
const char *cli_json_text(struct json_object *o, const char *key);

/* becknd journal verification-logs (cli_journal_vlogs.c). */
struct store_reader;
struct journal_vlogs {
	const char	*store;		/* the file, for messages */
	const char	*transaction_id;
	const char	*participant;	/* NULL: the only one */
	const char	*org;
	const char	*dir;
	const char	*domain_name;	/* NULL: from the domain */
	int		 pretty;
};
/* The exit status: 0, or 1 with the reasons on stderr. */
int	 cli_journal_vlogs(struct store_reader *, const struct journal_vlogs *);

#endif
