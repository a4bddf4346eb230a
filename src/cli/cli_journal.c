/*
 * cli_journal.c - `becknd journal SUB (-c CONFIG | --store PATH) ...`:
 * the message journal, read from the store file (store/store_query.h)
 * while the daemon runs or not.
 *
 *   list               matching messages as a table (or --json), in
 *                      journal order, a page of --limit rows
 *   show ID            a transaction's timeline (or a message id's rows)
 *                      with the bodies
 *   export             every matching row as CSV or JSON lines
 *   redeliver ID       put a dead or refused delivery back in the outbox
 *   verification-logs  ONEST verification logs (cli_journal_vlogs.c)
 *
 * --json prints the store_query_* objects exactly: the same JSON as the
 * admin API.  Exit 0; 1 on a failure (store, not found, a check); 2 on a
 * usage or configuration error.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "conf/conf.h"
#include "store/store_query.h"
#include "util/duration.h"
#include "util/jsoncheck.h"
#include "util/xmalloc.h"

enum {
	O_CONFIG, O_STORE, O_TRANSACTION, O_MESSAGE, O_ORDER, O_ACTION,
	O_STATUS, O_SINCE, O_UNTIL, O_LIMIT, O_PARTICIPANT, O_DOMAIN, O_PEER,
	O_DIRECTION, O_AFTER, O_JSON, O_RAW, O_FORMAT, O_ORG, O_OUTPUT,
	O_PRETTY, O_DOMAIN_NAME, O_HELP, O_COUNT
};
#define BIT(o)		(1u << (o))
#define FILTERS		(BIT(O_TRANSACTION) | BIT(O_MESSAGE) | BIT(O_ORDER) | \
	BIT(O_ACTION) | BIT(O_STATUS) | BIT(O_SINCE) | BIT(O_UNTIL) |	      \
	BIT(O_LIMIT) | BIT(O_PARTICIPANT) | BIT(O_DOMAIN) | BIT(O_PEER) |     \
	BIT(O_DIRECTION) | BIT(O_AFTER))

static const struct option opts[] = {
	{ "config", required_argument, NULL, O_CONFIG },
	{ "store", required_argument, NULL, O_STORE },
	{ "transaction", required_argument, NULL, O_TRANSACTION },
	{ "message", required_argument, NULL, O_MESSAGE },
	{ "order", required_argument, NULL, O_ORDER },
	{ "action", required_argument, NULL, O_ACTION },
	{ "status", required_argument, NULL, O_STATUS },
	{ "since", required_argument, NULL, O_SINCE },
	{ "until", required_argument, NULL, O_UNTIL },
	{ "limit", required_argument, NULL, O_LIMIT },
	{ "participant", required_argument, NULL, O_PARTICIPANT },
	{ "domain", required_argument, NULL, O_DOMAIN },
	{ "peer", required_argument, NULL, O_PEER },
	{ "direction", required_argument, NULL, O_DIRECTION },
	{ "after", required_argument, NULL, O_AFTER },
	{ "json", no_argument, NULL, O_JSON },
	{ "raw", no_argument, NULL, O_RAW },
	{ "format", required_argument, NULL, O_FORMAT },
	{ "org", required_argument, NULL, O_ORG },
	{ "output", required_argument, NULL, O_OUTPUT },
	{ "pretty", no_argument, NULL, O_PRETTY },
	{ "domain-name", required_argument, NULL, O_DOMAIN_NAME },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 }
};

struct journal {
	const char		*sub;
	const char		*config, *store;
	char			*path;		/* the store file */
	struct store_reader	*r;
	struct store_filter	 f;
	const char		*format, *org, *dir, *domain_name;
	int			 json, raw, pretty;
	unsigned		 given;
	char			**args;		/* the positional arguments */
	int			 nargs;
};

static int	j_list(struct journal *);
static int	j_show(struct journal *);
static int	j_export(struct journal *);
static int	j_redeliver(struct journal *);
static int	j_vlogs(struct journal *);

static const struct {
	const char	*name;
	int		(*fn)(struct journal *);
	unsigned	 allowed;	/* options besides -c / --store */
	int		 nargs;		/* positional arguments */
	int		 reader;	/* opens the store read-only */
} subs[] = {
	{ "list", j_list, FILTERS | BIT(O_JSON), 0, 1 },
	{ "show", j_show, BIT(O_JSON) | BIT(O_RAW), 1, 1 },
	{ "export", j_export, FILTERS | BIT(O_FORMAT), 0, 1 },
	{ "redeliver", j_redeliver, 0, 1, 0 },
	{ "verification-logs", j_vlogs, BIT(O_TRANSACTION) |
	  BIT(O_PARTICIPANT) | BIT(O_ORG) | BIT(O_OUTPUT) | BIT(O_PRETTY) |
	  BIT(O_DOMAIN_NAME), 0, 1 },
};

static const char usage_text[] =
    "usage: becknd journal list [FILTERS] [--json]\n"
    "       becknd journal show TRANSACTION_ID|MESSAGE_ID [--json | --raw]\n"
    "       becknd journal export --format csv|jsonl [FILTERS]\n"
    "       becknd journal redeliver DELIVERY_ID|MESSAGE_ID\n"
    "       becknd journal verification-logs --transaction ID --org NAME\n"
    "           -o DIR [--participant ID] [--domain-name NAME] [--pretty]\n"
    "each with -c CONFIG or --store PATH; becknd journal --help for more\n";

static const char help_text[] =
    "becknd journal: the message journal in the store (store.path), read\n"
    "while the daemon runs or not.  Every subcommand takes the store as\n"
    "-c CONFIG (its store.path) or --store PATH.\n"
    "\n"
    "  list [FILTERS] [--json]\n"
    "      Matching messages in journal order (oldest first), one page of\n"
    "      --limit rows (default 100, at most 1000): time, direction,\n"
    "      participant, peer, action, transaction_id, message_id, and the\n"
    "      answer (ACK, NACK and its error code, or no answer) with the\n"
    "      webhook delivery state.  When more rows match, the last line\n"
    "      says which --after shows the next page.  --json prints the\n"
    "      admin API's object {\"messages\":[...],\"next\":ID|null}.\n"
    "  show TRANSACTION_ID|MESSAGE_ID [--json | --raw]\n"
    "      The timeline of a transaction (or the rows of a message id)\n"
    "      with each body, pretty-printed (--raw: the bytes as stored).\n"
    "      --json prints {\"transaction_id\"|\"message_id\":ID,\n"
    "      \"messages\":[...]} with the bodies.\n"
    "  export --format csv|jsonl [FILTERS]\n"
    "      Every matching row to stdout (--limit: at most that many):\n"
    "      CSV (RFC 4180, no bodies; a text field starting with = + - @\n"
    "      gets a ' in front so that spreadsheets do not run it) or one\n"
    "      JSON row with its body per line.\n"
    "  redeliver DELIVERY_ID|MESSAGE_ID\n"
    "      Put a dead or refused webhook delivery back in the outbox (by\n"
    "      its Idempotency-Key, or the message id when only one delivery\n"
    "      of it is dead or refused).  The running daemon delivers it\n"
    "      within a second, or else at its next start.\n"
    "  verification-logs --transaction ID --org NAME -o DIR\n"
    "                    [--participant ID] [--domain-name NAME] [--pretty]\n"
    "      Write the ONEST verification logs of one transaction:\n"
    "      DIR/logs/NAME-BAP|BPP/DOMAIN NAME/<action>.json (the requests)\n"
    "      and on_<action>.json (the callbacks), the bodies exactly as\n"
    "      they crossed the wire (--pretty: re-indented).  The flow is the\n"
    "      messages that were ACKed (by us when received, by the peer\n"
    "      when sent); NACKed and unanswered messages are left out (a note\n"
    "      names each).  Repeated callbacks: on_<action>-<peer id>.json\n"
    "      (several peers), -step1, -step2... (several of one peer); a\n"
    "      request sent again: <action>-step1.json...  DOMAIN NAME is the\n"
    "      ONEST folder name (onest:learning-experiences is \"Learning\n"
    "      Experiences\"), or --domain-name.  Checked before anything is\n"
    "      written: every body kept and valid JSON, context.version\n"
    "      1.1.0, one transaction_id, every callback paired with its\n"
    "      request by message_id and every request answered.  Prints the\n"
    "      files and the pull request title.  --participant: which of our\n"
    "      participants, when the transaction has several in this store.\n"
    "\n"
    "FILTERS (all must match):\n"
    "  --transaction ID --message ID --order ID --action ACTION\n"
    "  --status ACK|NACK|queued|delivered|refused|dead --participant ID\n"
    "  --domain DOMAIN --peer ID --direction in|out\n"
    "  --since TIME --until TIME   received or sent at or after, before:\n"
    "      RFC 3339 (2026-11-30T10:00:00Z), unix milliseconds, or a\n"
    "      duration ago (30m, 2h, 7d)\n"
    "  --limit N --after ID        page size and the page after row ID\n"
    "\n"
    "Exit 0; 1 when something fails or is not found; 2 on usage errors.\n";

static void
usage(void)
{
	fputs(usage_text, stderr);
}

/* --- output helpers --------------------------------------------------- */

static int64_t
num(json_object *o, const char *key, int64_t dflt)
{
	json_object	*v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return dflt;
	return json_object_get_int64(v);
}

/* v with control characters as \xNN ("-" when NULL); xmalloc'd. */
static char *
printable(const char *v)
{
	const unsigned char	*p;
	char			*out, *o;

	if (v == NULL)
		return xstrdup("-");
	o = out = xmalloc(strlen(v) * 4 + 1);
	for (p = (const unsigned char *)v; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			o += sprintf(o, "\\x%02x", *p);
		else
			*o++ = (char)*p;
	}
	*o = '\0';
	return out;
}

/* The answer: "ACK", "NACK 10001" or "no answer"; xmalloc'd. */
static char *
answer_text(json_object *row)
{
	const char	*ack = cli_json_text(row, "ack");
	const char	*code = cli_json_text(row, "error_code");
	char		*s, *c;

	if (ack == NULL)
		return xstrdup("no answer");
	c = printable(code);
	xasprintf(&s, "%s%s%s", ack, code != NULL ? " " : "",
	    code != NULL ? c : "");
	free(c);
	return s;
}

/* The answer, then the delivery: "ACK, dead (5 attempts)". */
static char *
status_text(json_object *row)
{
	json_object	*d;
	const char	*state;
	char		*s, *t;
	int64_t		 attempts;

	s = answer_text(row);
	if (!json_object_object_get_ex(row, "delivery", &d) || d == NULL)
		return s;
	state = cli_json_text(d, "state");
	attempts = num(d, "attempts", 0);
	if (state != NULL && strcmp(state, "delivered") != 0 && attempts > 0)
		xasprintf(&t, "%s, %s (%lld attempt%s)", s, state,
		    (long long)attempts, attempts == 1 ? "" : "s");
	else
		xasprintf(&t, "%s, %s", s, state != NULL ? state : "-");
	free(s);
	return t;
}

static int
print_json(json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, STORE_JSON_FLAGS));
	return 0;
}

/* --- list ------------------------------------------------------------- */

#define NCOLS	8

static int
j_list(struct journal *j)
{
	static const char *const head[NCOLS] = { "time", "dir", "participant",
	    "peer", "action", "transaction_id", "message_id", "status" };
	static const char *const keys[NCOLS - 1] = { "start", "direction",
	    "participant", "peer", "action", "transaction_id", "message_id" };
	json_object	*o, *rows, *row;
	char		 err[1024], ***cells;
	size_t		 n, i, c, w[NCOLS];
	int64_t		 next;

	if ((o = store_query_messages(j->r, &j->f, 0, err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "becknd journal: %s\n", err);
		return 1;
	}
	if (j->json) {
		print_json(o);
		json_object_put(o);
		return 0;
	}
	rows = json_object_object_get(o, "messages");
	n = json_object_array_length(rows);
	if (n == 0) {
		printf("no matching messages\n");
		json_object_put(o);
		return 0;
	}
	cells = xcalloc(n, sizeof(*cells));
	for (c = 0; c < NCOLS; c++)
		w[c] = strlen(head[c]);
	for (i = 0; i < n; i++) {
		row = json_object_array_get_idx(rows, i);
		cells[i] = xcalloc(NCOLS, sizeof(**cells));
		for (c = 0; c < NCOLS - 1; c++)
			cells[i][c] = printable(cli_json_text(row, keys[c]));
		cells[i][NCOLS - 1] = status_text(row);
		for (c = 0; c < NCOLS; c++)
			if (strlen(cells[i][c]) > w[c])
				w[c] = strlen(cells[i][c]);
	}
	for (c = 0; c < NCOLS; c++)
		printf("%-*s%s", c < NCOLS - 1 ? (int)w[c] : 0, head[c],
		    c < NCOLS - 1 ? "  " : "\n");
	for (i = 0; i < n; i++) {
		for (c = 0; c < NCOLS; c++) {
			printf("%-*s%s", c < NCOLS - 1 ? (int)w[c] : 0,
			    cells[i][c], c < NCOLS - 1 ? "  " : "\n");
			free(cells[i][c]);
		}
		free(cells[i]);
	}
	free(cells);
	if ((next = num(o, "next", 0)) != 0)
		printf("more: --after %lld\n", (long long)next);
	json_object_put(o);
	return 0;
}

/* --- show ------------------------------------------------------------- */

static void
show_row(json_object *row, int raw)
{
	json_object		*d, *b;
	struct jsoncheck_error	 e;
	const char		*dir = cli_json_text(row, "direction"), *v;
	char			*p[4];
	size_t			 len;
	int			 i;

	p[0] = printable(cli_json_text(row, "start"));
	p[1] = printable(cli_json_text(row, "action"));
	p[2] = printable(cli_json_text(row, "participant"));
	p[3] = printable(cli_json_text(row, "peer"));
	printf("#%lld %s %s %s\n  %s %s %s\n", (long long)num(row, "id", 0),
	    p[0], dir, p[1], p[2], strcmp(dir, "in") == 0 ? "<-" : "->",
	    p[3]);
	for (i = 0; i < 4; i++)
		free(p[i]);
	p[0] = answer_text(row);
	printf("  answer: %s", p[0]);
	free(p[0]);
	if (num(row, "http_status", 0) != 0)
		printf(", HTTP %lld", (long long)num(row, "http_status", 0));
	if (num(row, "latency_ms", -1) >= 0)
		printf(", %lld ms", (long long)num(row, "latency_ms", 0));
	printf("\n");
	if ((v = cli_json_text(row, "error_message")) != NULL) {
		p[0] = printable(v);
		printf("  error: %s\n", p[0]);
		free(p[0]);
	}
	for (i = 0; i < 3; i++) {
		static const char *const k[] = { "message_id", "order_id",
		    "state_code" };

		if ((v = cli_json_text(row, k[i])) != NULL) {
			p[0] = printable(v);
			printf("  %s: %s\n", k[i], p[0]);
			free(p[0]);
		}
	}
	if (json_object_object_get_ex(row, "delivery", &d) && d != NULL) {
		p[0] = printable(cli_json_text(d, "id"));
		p[1] = printable(cli_json_text(d, "state"));
		printf("  delivery %s: %s, %lld attempt%s", p[0], p[1],
		    (long long)num(d, "attempts", 0),
		    num(d, "attempts", 0) == 1 ? "" : "s");
		free(p[0]);
		free(p[1]);
		if ((v = cli_json_text(d, "at")) != NULL)
			printf(", at %s", v);
		if ((v = cli_json_text(d, "last_error")) != NULL) {
			p[0] = printable(v);
			printf(", last error: %s", p[0]);
			free(p[0]);
		}
		printf("\n");
	}
	if (!json_object_object_get_ex(row, "body", &b) || b == NULL) {
		printf("  (body not kept)\n\n");
		return;
	}
	v = json_object_get_string(b);
	len = (size_t)json_object_get_string_len(b);
	if (!raw && jsoncheck(v, len, NULL, &e) == 0)
		cli_json_pretty(stdout, v, len);
	else {
		fwrite(v, 1, len, stdout);
		if (len == 0 || v[len - 1] != '\n')
			putchar('\n');
	}
	putchar('\n');
}

static int
j_show(struct journal *j)
{
	json_object	*o, *rows;
	const char	*id = j->args[0], *what = "transaction";
	char		 err[1024];
	size_t		 i, n;

	if ((o = store_query_transaction(j->r, id, err, sizeof(err))) ==
	    NULL && errno == ENOENT) {
		what = "message";
		o = store_query_message(j->r, id, err, sizeof(err));
	}
	if (o == NULL) {
		if (errno == ENOENT)
			fprintf(stderr, "becknd journal: %s: no transaction or "
			    "message with id %s\n", j->path, id);
		else
			fprintf(stderr, "becknd journal: %s\n", err);
		return 1;
	}
	if (j->json) {
		print_json(o);
		json_object_put(o);
		return 0;
	}
	rows = json_object_object_get(o, "messages");
	n = json_object_array_length(rows);
	printf("%s %s: %zu message%s\n\n", what, id, n, n == 1 ? "" : "s");
	for (i = 0; i < n; i++)
		show_row(json_object_array_get_idx(rows, i), j->raw);
	json_object_put(o);
	return 0;
}

/* --- export, redeliver, verification-logs ----------------------------- */

static int
write_stdout(const char *s, size_t len, void *arg)
{
	(void)arg;
	return fwrite(s, 1, len, stdout) == len ? 0 : -1;
}

static int
j_export(struct journal *j)
{
	char	 err[1024];

	if (store_export(j->r, &j->f, j->format, write_stdout, NULL, err,
	    sizeof(err)) == -1 || fflush(stdout) == EOF) {
		fprintf(stderr, "becknd journal: export: %s\n",
		    ferror(stdout) ? strerror(errno) : err);
		return 1;
	}
	return 0;
}

static int
j_redeliver(struct journal *j)
{
	char	 err[1024];

	if (store_requeue(j->path, j->args[0], err, sizeof(err)) == -1) {
		fprintf(stderr, "becknd journal: %s\n", err);
		return 1;
	}
	printf("requeued %s: the daemon delivers it within a second\n",
	    j->args[0]);
	return 0;
}

static int
j_vlogs(struct journal *j)
{
	struct journal_vlogs	 v;

	memset(&v, 0, sizeof(v));
	v.store = j->path;
	v.transaction_id = j->f.transaction_id;
	v.participant = j->f.participant;
	v.org = j->org;
	v.dir = j->dir;
	v.domain_name = j->domain_name;
	v.pretty = j->pretty;
	return cli_journal_vlogs(j->r, &v);
}

/* --- options ---------------------------------------------------------- */

/* --since / --until: RFC 3339, unix ms, or a duration ago. */
static int
parse_time(const char *s, int64_t *ms)
{
	int64_t	 d;

	if (store_time_parse(s, ms) == 0)
		return 0;
	if (strspn(s, "0123456789") == strlen(s) ||
	    duration_parse(s, &d) == -1)
		return -1;
	*ms = (int64_t)time(NULL) * 1000 - d;
	return *ms > 0 ? 0 : -1;
}

static int
option(struct journal *j, int o, char *arg)
{
	long long	 v;

	switch (o) {
	case O_CONFIG:
		j->config = arg;
		break;
	case O_STORE:
		j->store = arg;
		break;
	case O_TRANSACTION:
		j->f.transaction_id = arg;
		break;
	case O_MESSAGE:
		j->f.message_id = arg;
		break;
	case O_ORDER:
		j->f.order_id = arg;
		break;
	case O_ACTION:
		j->f.action = arg;
		break;
	case O_STATUS:
		j->f.status = arg;
		if (strcmp(arg, "ACK") != 0 && strcmp(arg, "NACK") != 0 &&
		    strcmp(arg, "queued") != 0 &&
		    strcmp(arg, "delivered") != 0 &&
		    strcmp(arg, "refused") != 0 && strcmp(arg, "dead") != 0) {
			fprintf(stderr, "becknd journal: --status must be "
			    "ACK, NACK, queued, delivered, refused or dead\n");
			return -1;
		}
		break;
	case O_SINCE:
	case O_UNTIL:
		if (parse_time(arg, o == O_SINCE ? &j->f.since_ms :
		    &j->f.until_ms) == -1) {
			fprintf(stderr, "becknd journal: --%s %s: not an RFC "
			    "3339 time, unix milliseconds or a duration\n",
			    o == O_SINCE ? "since" : "until", arg);
			return -1;
		}
		break;
	case O_LIMIT:
		if (cli_parse_int64(arg, &v) == -1 || v < 1 || v > INT32_MAX) {
			fprintf(stderr, "becknd journal: --limit must be a "
			    "positive number\n");
			return -1;
		}
		j->f.limit = (int)v;
		break;
	case O_PARTICIPANT:
		j->f.participant = arg;
		break;
	case O_DOMAIN:
		j->f.domain = arg;
		break;
	case O_PEER:
		j->f.peer = arg;
		break;
	case O_DIRECTION:
		if (strcmp(arg, "in") != 0 && strcmp(arg, "out") != 0) {
			fprintf(stderr, "becknd journal: --direction must be "
			    "in or out\n");
			return -1;
		}
		j->f.direction = arg;
		break;
	case O_AFTER:
		if (cli_parse_int64(arg, &v) == -1 || v < 0) {
			fprintf(stderr, "becknd journal: --after must be a "
			    "row id\n");
			return -1;
		}
		j->f.after = v;
		break;
	case O_JSON:
		j->json = 1;
		break;
	case O_RAW:
		j->raw = 1;
		break;
	case O_FORMAT:
		if (strcmp(arg, "csv") != 0 && strcmp(arg, "jsonl") != 0) {
			fprintf(stderr, "becknd journal: --format must be csv "
			    "or jsonl\n");
			return -1;
		}
		j->format = arg;
		break;
	case O_ORG:
		j->org = arg;
		break;
	case O_OUTPUT:
		j->dir = arg;
		break;
	case O_PRETTY:
		j->pretty = 1;
		break;
	case O_DOMAIN_NAME:
		j->domain_name = arg;
		break;
	default:
		return -1;
	}
	return 0;
}

static const char *
option_name(int o)
{
	size_t	 i;

	for (i = 0; opts[i].name != NULL; i++)
		if (opts[i].val == o)
			return opts[i].name;
	return "?";
}

/*
 * Options, positional arguments and what each subcommand needs: 0, 1 for
 * --help, -1 on a usage error (said on stderr).
 */
static int
parse(struct journal *j, int argc, char **argv, unsigned allowed,
    int nargs)
{
	int	 ch, o;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "c:o:h", opts, NULL)) != -1) {
		o = ch == 'c' ? O_CONFIG : ch == 'o' ? O_OUTPUT :
		    ch == 'h' ? O_HELP : ch;
		if (o == '?' || o == ':') {
			fprintf(stderr, "becknd journal %s: unknown option or "
			    "missing value: %s\n", j->sub, argv[optind - 1]);
			return -1;
		}
		if (o == O_HELP)
			return 1;
		if (o != O_CONFIG && o != O_STORE && !(allowed & BIT(o))) {
			fprintf(stderr, "becknd journal %s: --%s does not "
			    "apply\n", j->sub, option_name(o));
			return -1;
		}
		j->given |= BIT(o);
		if (option(j, o, optarg) == -1)
			return -1;
	}
	j->args = argv + optind;
	j->nargs = argc - optind;
	if (j->nargs != nargs) {
		fprintf(stderr, "becknd journal %s: %s\n", j->sub,
		    j->nargs < nargs ? "an ID is needed" :
		    "too many arguments");
		return -1;
	}
	if ((j->config == NULL) == (j->store == NULL)) {
		fprintf(stderr, "becknd journal %s: give -c CONFIG or "
		    "--store PATH\n", j->sub);
		return -1;
	}
	if ((allowed & BIT(O_FORMAT)) && j->format == NULL) {
		fprintf(stderr, "becknd journal export: --format csv|jsonl "
		    "is needed\n");
		return -1;
	}
	if ((allowed & BIT(O_ORG)) && (j->f.transaction_id == NULL ||
	    j->org == NULL || j->dir == NULL)) {
		fprintf(stderr, "becknd journal verification-logs: "
		    "--transaction, --org and -o are needed\n");
		return -1;
	}
	if ((allowed & BIT(O_JSON)) && (allowed & BIT(O_RAW)) && j->json &&
	    j->raw) {
		fprintf(stderr, "becknd journal show: --json or --raw, not "
		    "both\n");
		return -1;
	}
	if (!(allowed & BIT(O_FORMAT)) && j->f.limit > STORE_LIMIT_MAX) {
		fprintf(stderr, "becknd journal %s: --limit must be 1 to %d\n",
		    j->sub, STORE_LIMIT_MAX);
		return -1;
	}
	return 0;
}

/* The store file: --store, or the configuration's store.path. */
static int
store_path(struct journal *j)
{
	struct conf	*c;
	char		 err[1024];

	if (j->store != NULL) {
		j->path = xstrdup(j->store);
		return 0;
	}
	if ((c = conf_load(j->config, err, sizeof(err))) == NULL) {
		fprintf(stderr, "becknd journal: %s\n", err);
		return -1;
	}
	if (c->store_path == NULL)
		fprintf(stderr, "becknd journal: %s: no store.path (the store "
		    "is off)\n", j->config);
	else
		j->path = xstrdup(c->store_path);
	conf_free(c);
	return j->path != NULL ? 0 : -1;
}

int
cli_journal(int argc, char **argv)
{
	struct journal	 j;
	char		 err[1024];
	size_t		 i;
	int		 rc;

	if (argc < 2) {
		usage();
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(help_text, stdout);
		return 0;
	}
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			break;
	if (i == sizeof(subs) / sizeof(subs[0])) {
		fprintf(stderr, "becknd journal: unknown subcommand \"%s\"\n",
		    argv[1]);
		usage();
		return 2;
	}
	memset(&j, 0, sizeof(j));
	j.sub = subs[i].name;
	if ((rc = parse(&j, argc - 1, argv + 1, subs[i].allowed,
	    subs[i].nargs)) != 0) {
		fputs(rc == 1 ? help_text : usage_text, rc == 1 ? stdout :
		    stderr);
		return rc == 1 ? 0 : 2;
	}
	if (store_path(&j) == -1)
		return 2;
	if (subs[i].reader && (j.r = store_reader_open(j.path, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "becknd journal: %s\n", err);
		free(j.path);
		return 1;
	}
	rc = subs[i].fn(&j);
	if (fflush(stdout) == EOF && rc == 0) {
		fprintf(stderr, "becknd journal: stdout: %s\n",
		    strerror(errno));
		rc = 1;
	}
	store_reader_close(j.r);
	free(j.path);
	return rc;
}
