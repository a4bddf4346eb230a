/*
 * check_docs.c - the documentation drift test.
 *
 * The configuration key table (conf_key_names(), from conf_keys[] in
 * src/conf/conf.c) and the subcommands of `becknd --help` are the truth;
 * this suite fails when the man page, the README, the example
 * configuration or the Kubernetes example disagree with them, in either
 * direction:
 *
 *   doc/becknd.8     section CONFIGURATION KEYS: one .TP entry per key,
 *                    the tag's first word is the key's full name, and no
 *                    entry names a key the table lacks; a bounded key's
 *                    tag shows conf_key_range(); the tag of a key that
 *                    needs a restart ends with "; restart)" and its text
 *                    says "Changing it needs a restart", and no other
 *                    key's does; section COMMANDS: one .SS "becknd NAME"
 *                    per subcommand and no other.
 *   README.md        section "## Configuration": one table row per key,
 *                    "| `key` | ...", and no row for an unknown key; every
 *                    subcommand appears as "becknd NAME".
 *   etc/becknd.yaml  every key at its nesting (set, or shown commented
 *                    out as "# key: value"), and no other key; and
 *                    `becknd -c etc/becknd.yaml -t` passes.
 *   contrib/kubernetes/sidecar.yaml  valid YAML; its ConfigMap's
 *                    becknd.yaml loads with conf_load().
 *   doc/becknd.8     has no groff warnings (when groff is installed).
 *
 * Roff escapes are undone before comparing (\&, \-, \fB..\fP, quotes).
 * Environment: BECKND_SRCDIR, BECKND_BIN (set by `make check`).
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "conf/conf.h"
#include "testutil.h"
#include "util/xmalloc.h"

#define MAX_NAMES	256

/* A list of owned strings. */
struct names {
	char	*v[MAX_NAMES];
	size_t	 n;
};

static void
names_add(struct names *ns, const char *s, size_t len)
{
	ck_assert_msg(ns->n < MAX_NAMES, "more than %d names", MAX_NAMES);
	ns->v[ns->n++] = xstrndup(s, len);
}

static int
names_has(const struct names *ns, const char *s)
{
	size_t	 i;

	for (i = 0; i < ns->n; i++)
		if (strcmp(ns->v[i], s) == 0)
			return 1;
	return 0;
}

static size_t
names_count(const struct names *ns, const char *s)
{
	size_t	 i, c = 0;

	for (i = 0; i < ns->n; i++)
		if (strcmp(ns->v[i], s) == 0)
			c++;
	return c;
}

static void
names_free(struct names *ns)
{
	while (ns->n > 0)
		free(ns->v[--ns->n]);
}

static int
is_key(const char *s)
{
	const char *const	*k;

	for (k = conf_key_names(); *k != NULL; k++)
		if (strcmp(*k, s) == 0)
			return 1;
	return 0;
}

/* Is s a section of the table: "listen", "participants", ...? */
static int
is_section(const char *s)
{
	const char *const	*k;
	size_t			 len = strlen(s);

	for (k = conf_key_names(); *k != NULL; k++)
		if (strncmp(*k, s, len) == 0 &&
		    ((*k)[len] == '.' || strncmp(*k + len, "[].", 3) == 0))
			return 1;
	return 0;
}

static char *
src_path(const char *rel)
{
	char	*p;

	xasprintf(&p, "%s/%s", test_srcdir(), rel);
	return p;
}

static char *
read_src(const char *rel)
{
	char	*p = src_path(rel), *text;

	text = test_read_file(p, NULL);
	free(p);
	return text;
}

/* ---- running the binary --------------------------------------------------- */

static const char *
bin(void)
{
	const char	*b = getenv("BECKND_BIN");

	if (b == NULL || *b == '\0')
		b = "./becknd";
	ck_assert_msg(access(b, X_OK) == 0, "%s is not executable (run the "
	    "suite with `make check`, which sets BECKND_BIN)", b);
	return b;
}

/* Run argv (no shell); stdout and stderr together in *out. Exit status. */
static int
run(const char *const *argv, char **out)
{
	int	 fds[2], st, devnull;
	pid_t	 pid;
	size_t	 len = 0, cap = 4096;
	ssize_t	 n;
	char	*buf;

	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		if ((devnull = open("/dev/null", O_RDONLY)) != -1)
			dup2(devnull, 0);
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		close(fds[1]);
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	buf = xmalloc(cap);
	for (;;) {
		if (len + 1 == cap)
			buf = xrealloc(buf, cap *= 2);
		n = read(fds[0], buf + len, cap - len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fds[0]);
	while (waitpid(pid, &st, 0) == -1)
		ck_assert_int_eq(errno, EINTR);
	*out = buf;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- roff ---------------------------------------------------------------- */

/*
 * The plain text of one roff line: the leading macro name dropped (".BR
 * a b" -> "a b"), \& and quotes removed, \- -> -, \e -> \, font changes
 * (\fB \fI \fR \fP \f(XX \f[..]) removed.  xmalloc'd.
 */
static char *
roff_text(const char *line, size_t len)
{
	char		*out = xmalloc(len + 1);
	size_t		 i = 0, o = 0;

	if (len > 0 && line[0] == '.') {
		while (i < len && !isspace((unsigned char)line[i]))
			i++;
		while (i < len && isspace((unsigned char)line[i]))
			i++;
	}
	while (i < len) {
		if (line[i] == '"') {
			i++;
		} else if (line[i] == '\\' && i + 1 < len) {
			switch (line[i + 1]) {
			case '&':
			case '%':
				i += 2;
				break;
			case '-':
				out[o++] = '-';
				i += 2;
				break;
			case 'e':
				out[o++] = '\\';
				i += 2;
				break;
			case 'f':
				i += 2;
				if (i < len && line[i] == '(')
					i += 3;
				else if (i < len && line[i] == '[') {
					while (i < len && line[i] != ']')
						i++;
					i++;
				} else
					i++;
				break;
			default:
				out[o++] = line[i++];
				break;
			}
		} else
			out[o++] = line[i++];
	}
	if (o > len)
		o = len;
	out[o] = '\0';
	return out;
}

/* The first word of s, xmalloc'd. */
static char *
first_word(const char *s)
{
	size_t	 n;

	while (isspace((unsigned char)*s))
		s++;
	n = strcspn(s, " \t");
	return xstrndup(s, n);
}

/*
 * Lines of section .SH name (up to the next .SH): pointer to the first
 * line, length through the end of the section.  0, or -1 when absent.
 */
static int
roff_section(const char *text, const char *name, const char **start,
    size_t *len)
{
	const char	*p = text, *nl, *s = NULL;
	char		*t;

	for (; *p != '\0'; p = *nl != '\0' ? nl + 1 : nl) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			nl = p + strlen(p);
		if (strncmp(p, ".SH ", 4) != 0)
			continue;
		if (s != NULL) {
			*start = s;
			*len = (size_t)(p - s);
			return 0;
		}
		t = roff_text(p, (size_t)(nl - p));
		if (strcmp(t, name) == 0)
			s = *nl != '\0' ? nl + 1 : nl;
		free(t);
	}
	if (s == NULL)
		return -1;
	*start = s;
	*len = strlen(s);
	return 0;
}

/* First words of the .TP tags of a man page section. */
static void
man_tags(const char *man, const char *section, struct names *out)
{
	const char	*s, *p, *end, *nl;
	size_t		 len;
	char		*t, *w;

	ck_assert_msg(roff_section(man, section, &s, &len) == 0,
	    "doc/becknd.8 has no section \"%s\"", section);
	end = s + len;
	for (p = s; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		if (strncmp(p, ".TP", 3) != 0 || (p[3] != '\n' && p[3] != ' '))
			continue;
		p = nl + 1;
		if (p >= end || (nl = memchr(p, '\n', (size_t)(end - p))) ==
		    NULL)
			break;
		t = roff_text(p, (size_t)(nl - p));
		w = first_word(t);
		names_add(out, w, strlen(w));
		free(w);
		free(t);
	}
}

/*
 * The entry of key in a man page section: the plain text of its .TP tag
 * and of the lines after it up to the next .TP, .SS or .SH, joined by
 * spaces (both xmalloc'd).  0, or -1 when no tag starts with key.
 */
static int
man_entry(const char *man, const char *section, const char *key,
    char **tag, char **body)
{
	const char	*s, *p, *end, *nl;
	size_t		 len, blen;
	char		*t, *w;
	int		 found;

	ck_assert(roff_section(man, section, &s, &len) == 0);
	end = s + len;
	for (p = s; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		if (strncmp(p, ".TP", 3) != 0 || (p[3] != '\n' && p[3] != ' '))
			continue;
		p = nl + 1;
		if (p >= end || (nl = memchr(p, '\n', (size_t)(end - p))) ==
		    NULL)
			break;
		t = roff_text(p, (size_t)(nl - p));
		w = first_word(t);
		found = strcmp(w, key) == 0;
		free(w);
		if (!found) {
			free(t);
			continue;
		}
		*tag = t;
		*body = xstrdup("");
		blen = 0;
		for (p = nl + 1; p < end; p = nl + 1) {
			if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
				nl = end;
			if (strncmp(p, ".TP", 3) == 0 ||
			    strncmp(p, ".SS", 3) == 0 ||
			    strncmp(p, ".SH", 3) == 0)
				break;
			t = roff_text(p, (size_t)(nl - p));
			*body = xrealloc(*body, blen + strlen(t) + 2);
			blen += (size_t)sprintf(*body + blen, "%s%s",
			    blen > 0 ? " " : "", t);
			free(t);
			if (nl == end)
				break;
		}
		return 0;
	}
	return -1;
}

/* NAME of each .SS "becknd NAME" in a section. */
static void
man_subsections(const char *man, const char *section, struct names *out)
{
	const char	*s, *p, *end, *nl;
	size_t		 len;
	char		*t, *w;

	ck_assert(roff_section(man, section, &s, &len) == 0);
	end = s + len;
	for (p = s; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		if (strncmp(p, ".SS ", 4) != 0)
			continue;
		t = roff_text(p, (size_t)(nl - p));
		w = first_word(t);
		if (strcmp(w, "becknd") == 0) {
			free(w);
			w = first_word(t + strspn(t, " \t") + strlen("becknd"));
			names_add(out, w, strlen(w));
		}
		free(w);
		free(t);
	}
}

/* Subcommands listed by `becknd --help`: lines "  becknd NAME ...". */
static void
help_subcommands(struct names *out)
{
	const char	*argv[] = { bin(), "--help", NULL };
	const char	*p, *q;
	char		*help, *w;
	size_t		 n;

	ck_assert_int_eq(run(argv, &help), 0);
	for (p = help; *p != '\0'; p = *q != '\0' ? q + 1 : q) {
		if ((q = strchr(p, '\n')) == NULL)
			q = p + strlen(p);
		if (strncmp(p, "  becknd ", 9) != 0 || !islower((unsigned char)
		    p[9]))
			continue;
		n = strspn(p + 9, "abcdefghijklmnopqrstuvwxyz-");
		w = xstrndup(p + 9, n);
		if (!names_has(out, w))
			names_add(out, w, n);
		free(w);
	}
	free(help);
	ck_assert_msg(out->n >= 5, "becknd --help lists %zu subcommands",
	    out->n);
}

/* ---- the man page ------------------------------------------------------- */

START_TEST(man_documents_every_key)
{
	const char *const	*k;
	struct names		 tags = { .n = 0 };
	char			*man = read_src("doc/becknd.8");
	size_t			 nkeys = 0;

	man_tags(man, "CONFIGURATION KEYS", &tags);
	for (k = conf_key_names(); *k != NULL; k++, nkeys++)
		ck_assert_msg(names_count(&tags, *k) == 1, "doc/becknd.8: key "
		    "\"%s\" has %zu entries in CONFIGURATION KEYS (want 1: "
		    ".TP then a tag starting with the key)", *k,
		    names_count(&tags, *k));
	ck_assert_uint_eq(tags.n, nkeys);
	names_free(&tags);
	free(man);
}
END_TEST

START_TEST(man_documents_no_unknown_key)
{
	struct names	 tags = { .n = 0 };
	char		*man = read_src("doc/becknd.8");
	size_t		 i;

	man_tags(man, "CONFIGURATION KEYS", &tags);
	ck_assert_uint_gt(tags.n, 0);
	for (i = 0; i < tags.n; i++)
		ck_assert_msg(is_key(tags.v[i]), "doc/becknd.8 documents "
		    "\"%s\", which conf_keys[] in src/conf/conf.c does not "
		    "accept", tags.v[i]);
	names_free(&tags);
	free(man);
}
END_TEST

/* The tag "key (type MIN to MAX; default: ...)" shows the table's bounds. */
START_TEST(man_shows_every_bound)
{
	const char *const	*k;
	char			*man = read_src("doc/becknd.8"), *tag, *body;
	char			 range[80], want[100];
	size_t			 n = 0;

	for (k = conf_key_names(); *k != NULL; k++) {
		if (conf_key_range(*k, range, sizeof(range)) == -1)
			continue;
		n++;
		ck_assert(man_entry(man, "CONFIGURATION KEYS", *k, &tag,
		    &body) == 0);
		/* " 10ms to 1h;" or " 1s to 1d, or off;" */
		snprintf(want, sizeof(want), " %s", range);
		ck_assert_msg(strstr(tag, want) != NULL &&
		    strchr(";,", strstr(tag, want)[strlen(want)]) != NULL,
		    "doc/becknd.8: the entry of %s should show its bounds "
		    "\"%s\" as in \"(duration %s; default: ...)\"; it reads "
		    "\"%s\"", *k, range, range, tag);
		free(tag);
		free(body);
	}
	ck_assert_uint_gt(n, 20);
	free(man);
}
END_TEST

/*
 * The reloadable column both ways: a key that needs a restart says so in
 * its tag and text, and a reloadable key says neither.
 */
START_TEST(man_marks_restart_keys)
{
	const char *const	*k;
	char			*man = read_src("doc/becknd.8"), *tag, *body;
	const char		*mark = "; restart)";
	const char		*says = "Changing it needs a restart";
	size_t			 tlen, nrestart = 0;
	int			 tagged, told, reloadable;

	for (k = conf_key_names(); *k != NULL; k++) {
		reloadable = conf_key_reloadable(*k);
		ck_assert_int_ne(reloadable, -1);
		ck_assert(man_entry(man, "CONFIGURATION KEYS", *k, &tag,
		    &body) == 0);
		tlen = strlen(tag);
		while (tlen > 0 && isspace((unsigned char)tag[tlen - 1]))
			tlen--;
		tagged = tlen >= strlen(mark) &&
		    memcmp(tag + tlen - strlen(mark), mark, strlen(mark)) == 0;
		told = strstr(body, says) != NULL;
		if (!reloadable) {
			nrestart++;
			ck_assert_msg(tagged && told, "doc/becknd.8: %s needs "
			    "a restart: its tag must end with \"%s\" and its "
			    "text say \"%s\" (tag \"%s\")", *k, mark, says,
			    tag);
		} else
			ck_assert_msg(!tagged && !told, "doc/becknd.8: %s is "
			    "reloadable (conf_keys[]), but its entry says it "
			    "needs a restart", *k);
		free(tag);
		free(body);
	}
	ck_assert_uint_eq(nrestart, 6);	/* listen.*, store.path, sync */
	free(man);
}
END_TEST

START_TEST(man_documents_every_subcommand)
{
	struct names	 help = { .n = 0 }, man_ss = { .n = 0 };
	char		*man = read_src("doc/becknd.8");
	size_t		 i;

	help_subcommands(&help);
	man_subsections(man, "COMMANDS", &man_ss);
	for (i = 0; i < help.n; i++)
		ck_assert_msg(names_has(&man_ss, help.v[i]), "doc/becknd.8: "
		    "no .SS \"becknd %s\" in COMMANDS", help.v[i]);
	for (i = 0; i < man_ss.n; i++)
		ck_assert_msg(names_has(&help, man_ss.v[i]), "doc/becknd.8 "
		    "documents \"becknd %s\", which becknd --help does not "
		    "list", man_ss.v[i]);
	names_free(&help);
	names_free(&man_ss);
	free(man);
}
END_TEST

START_TEST(man_has_no_groff_warnings)
{
	const char	*which[] = { "sh", "-c", "command -v groff", NULL };
	char		*path = src_path("doc/becknd.8"), *out;
	const char	*argv[] = { "groff", "-man", "-ww", "-z", path, NULL };

	if (run(which, &out) != 0) {
		fprintf(stderr, "check_docs: groff not installed; roff "
		    "warnings not checked\n");
		free(out);
		free(path);
		return;
	}
	free(out);
	ck_assert_int_eq(run(argv, &out), 0);
	ck_assert_msg(*out == '\0', "groff -man -ww -z doc/becknd.8:\n%s",
	    out);
	free(out);
	free(path);
}
END_TEST

/* ---- README ----------------------------------------------------------------- */

/* The text of "## title" up to the next "## " heading. */
static char *
md_section(const char *md, const char *title)
{
	const char	*p, *end;
	char		 head[128];

	snprintf(head, sizeof(head), "\n## %s\n", title);
	if ((p = strstr(md, head)) == NULL)
		return NULL;
	p += strlen(head);
	if ((end = strstr(p, "\n## ")) == NULL)
		end = p + strlen(p);
	return xstrndup(p, (size_t)(end - p));
}

/* Keys of the table rows "| `key` |" of a README section. */
static void
md_table_keys(const char *sec, struct names *out)
{
	const char	*p, *q, *e;

	for (p = sec; *p != '\0'; p = *q != '\0' ? q + 1 : q) {
		if ((q = strchr(p, '\n')) == NULL)
			q = p + strlen(p);
		if (strncmp(p, "| `", 3) != 0)
			continue;
		e = memchr(p + 3, '`', (size_t)(q - p - 3));
		ck_assert_msg(e != NULL, "README.md: unclosed ` in a table row");
		names_add(out, p + 3, (size_t)(e - p - 3));
	}
}

START_TEST(readme_documents_every_key)
{
	const char *const	*k;
	struct names		 rows = { .n = 0 };
	char			*md = read_src("README.md"), *sec;
	size_t			 i;

	sec = md_section(md, "Configuration");
	ck_assert_msg(sec != NULL, "README.md has no \"## Configuration\"");
	md_table_keys(sec, &rows);
	for (k = conf_key_names(); *k != NULL; k++)
		ck_assert_msg(names_count(&rows, *k) == 1, "README.md, "
		    "Configuration: key \"%s\" has %zu table rows "
		    "(\"| `%s` | ...\"; want 1)", *k, names_count(&rows, *k),
		    *k);
	for (i = 0; i < rows.n; i++)
		ck_assert_msg(is_key(rows.v[i]), "README.md documents \"%s\", "
		    "which conf_keys[] does not accept", rows.v[i]);
	names_free(&rows);
	free(sec);
	free(md);
}
END_TEST

START_TEST(readme_mentions_every_subcommand)
{
	struct names	 help = { .n = 0 };
	char		*md = read_src("README.md"), want[64];
	size_t		 i;

	help_subcommands(&help);
	for (i = 0; i < help.n; i++) {
		snprintf(want, sizeof(want), "becknd %s", help.v[i]);
		ck_assert_msg(strstr(md, want) != NULL, "README.md does not "
		    "mention \"%s\"", want);
	}
	names_free(&help);
	free(md);
}
END_TEST

/* ---- etc/becknd.yaml -------------------------------------------------------- */

/*
 * Dotted key paths of a block-style YAML file, by indentation, counting
 * keys shown commented out ("  # key: value" on a line of its own) as
 * present.  "- key:" opens a list entry: participants[].key.  Flow
 * collections and multi-line scalars are not needed by the example.
 */
static void
yaml_paths(const char *text, struct names *out)
{
	struct { int indent; char name[64]; } st[16];
	const char	*p, *q, *s;
	int		 depth = 0, indent, i, dash;
	size_t		 n, len;
	char		 path[1200];

	for (p = text; *p != '\0'; p = *q != '\0' ? q + 1 : q) {
		if ((q = strchr(p, '\n')) == NULL)
			q = p + strlen(p);
		s = p;
		while (s < q && *s == ' ')
			s++;
		indent = (int)(s - p);
		if (s < q && *s == '#') {
			/* "# key: value": a documented optional key. */
			s++;
			if (s < q && *s == ' ')
				s++;
		}
		dash = 0;
		if (s + 1 < q && s[0] == '-' && s[1] == ' ') {
			dash = 1;
			s += 2;
			indent = (int)(s - p);
		}
		n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_");
		if (n == 0 || n >= sizeof(st[0].name) || s + n >= q ||
		    s[n] != ':' || (s + n + 1 < q && s[n + 1] != ' '))
			continue;
		if (dash) {
			/* The list's entry: one level below its parent. */
			while (depth > 0 && st[depth - 1].indent >= indent - 2)
				depth--;
			ck_assert(depth < 16);
			st[depth].indent = indent - 2;
			snprintf(st[depth].name, sizeof(st[depth].name), "[]");
			depth++;
		} else {
			while (depth > 0 && st[depth - 1].indent >= indent)
				depth--;
		}
		len = 0;
		path[0] = '\0';
		for (i = 0; i < depth; i++)
			len += (size_t)snprintf(path + len, sizeof(path) - len,
			    "%s%s", i > 0 && strcmp(st[i].name, "[]") != 0 ?
			    "." : "", st[i].name);
		len += (size_t)snprintf(path + len, sizeof(path) - len,
		    "%s%.*s", depth > 0 ? "." : "", (int)n, s);
		ck_assert_uint_lt(len, sizeof(path));
		if (!names_has(out, path))
			names_add(out, path, strlen(path));
		ck_assert(depth < 16);
		st[depth].indent = indent;
		memcpy(st[depth].name, s, n);
		st[depth].name[n] = '\0';
		depth++;
	}
}

START_TEST(yaml_shows_every_key)
{
	const char *const	*k;
	struct names		 paths = { .n = 0 };
	char			*yaml = read_src("etc/becknd.yaml");
	size_t			 i;

	yaml_paths(yaml, &paths);
	for (k = conf_key_names(); *k != NULL; k++)
		ck_assert_msg(names_has(&paths, *k), "etc/becknd.yaml does not "
		    "show \"%s\" (set it, or show it commented out: "
		    "\"# name: value\" at its indentation)", *k);
	for (i = 0; i < paths.n; i++)
		ck_assert_msg(is_key(paths.v[i]) || is_section(paths.v[i]),
		    "etc/becknd.yaml shows \"%s\", which conf_keys[] does "
		    "not accept", paths.v[i]);
	names_free(&paths);
	free(yaml);
}
END_TEST

START_TEST(yaml_parser_self_test)
{
	struct names	 paths = { .n = 0 };

	yaml_paths("a:\n  b: 1\n  # c: 2\n# Prose: no\nlist:\n"
	    "  - x: 1\n    y: [1]\n    # z: 3\n  - x: 2\nd: 4\n", &paths);
	ck_assert_uint_eq(paths.n, 8);
	ck_assert(names_has(&paths, "a.b"));
	ck_assert(names_has(&paths, "a.c"));
	ck_assert(names_has(&paths, "list[].x"));
	ck_assert(names_has(&paths, "list[].y"));
	ck_assert(names_has(&paths, "list[].z"));
	ck_assert(names_has(&paths, "d"));
	ck_assert(!names_has(&paths, "Prose"));
	names_free(&paths);
}
END_TEST

START_TEST(yaml_example_passes_check)
{
	char		*path = src_path("etc/becknd.yaml"), *out;
	const char	*argv[] = { bin(), "-c", path, "-t", NULL };

	ck_assert_msg(run(argv, &out) == 0, "becknd -c %s -t:\n%s", path, out);
	ck_assert_ptr_nonnull(strstr(out, ": ok\n"));
	free(out);
	free(path);
}
END_TEST

/* ---- contrib/kubernetes ----------------------------------------------------- */

/* The value of key in mapping node m, or NULL. */
static yaml_node_t *
ymap_get(yaml_document_t *d, yaml_node_t *m, const char *key)
{
	yaml_node_pair_t	*pr;
	yaml_node_t		*k;

	if (m == NULL || m->type != YAML_MAPPING_NODE)
		return NULL;
	for (pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top;
	    pr++) {
		k = yaml_document_get_node(d, pr->key);
		if (k != NULL && k->type == YAML_SCALAR_NODE &&
		    strcmp((char *)k->data.scalar.value, key) == 0)
			return yaml_document_get_node(d, pr->value);
	}
	return NULL;
}

START_TEST(kubernetes_example_config_loads)
{
	char		*path = src_path("contrib/kubernetes/sidecar.yaml");
	char		 dir[] = "/tmp/becknd-docs-XXXXXX", *conf = NULL, *f;
	char		*key, err[512];
	yaml_parser_t	 parser;
	yaml_document_t	 doc;
	yaml_node_t	*root, *v;
	struct conf	*c;
	FILE		*fp;
	int		 ndocs = 0, done = 0;

	ck_assert_ptr_nonnull(fp = fopen(path, "rb"));
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, fp);
	while (!done) {
		ck_assert_msg(yaml_parser_load(&parser, &doc), "%s:%zu: %s",
		    path, parser.problem_mark.line + 1, parser.problem);
		if ((root = yaml_document_get_root_node(&doc)) == NULL)
			done = 1;
		else {
			ndocs++;
			v = ymap_get(&doc, root, "kind");
			if (v != NULL && v->type == YAML_SCALAR_NODE &&
			    strcmp((char *)v->data.scalar.value, "ConfigMap") ==
			    0 && (v = ymap_get(&doc, ymap_get(&doc, root,
			    "data"), "becknd.yaml")) != NULL &&
			    v->type == YAML_SCALAR_NODE)
				conf = xstrdup((char *)v->data.scalar.value);
		}
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	fclose(fp);
	ck_assert_int_ge(ndocs, 3);
	ck_assert_msg(conf != NULL, "%s: no ConfigMap with data.becknd.yaml",
	    path);

	/* As mounted: /etc/becknd/becknd.yaml, the key at keys/bap.key. */
	ck_assert_ptr_nonnull(mkdtemp(dir));
	xasprintf(&f, "%s/keys", dir);
	ck_assert_int_eq(mkdir(f, 0700), 0);
	free(f);
	key = read_src("etc/example-bap.key");
	xasprintf(&f, "%s/keys/bap.key", dir);
	ck_assert_ptr_nonnull(fp = fopen(f, "w"));
	fputs(key, fp);
	fclose(fp);
	free(f);
	xasprintf(&f, "%s/becknd.yaml", dir);
	ck_assert_ptr_nonnull(fp = fopen(f, "w"));
	fputs(conf, fp);
	fclose(fp);
	/* The pod's env gives it from a Secret. */
	setenv("BECKND_ADMIN_TOKEN", "0123456789abcdef0123456789abcdef", 1);
	c = conf_load(f, err, sizeof(err));
	ck_assert_msg(c != NULL, "the ConfigMap's becknd.yaml: %s", err);
	/* The probes need the admin listener. */
	ck_assert_ptr_nonnull(c->listen_admin);
	ck_assert_ptr_nonnull(c->listen_client);
	ck_assert_msg(strncmp(c->listen_client, "127.0.0.1:", 10) == 0,
	    "the sidecar's client listener must be loopback only, not %s",
	    c->listen_client);
	conf_free(c);
	free(f);
	free(key);
	free(conf);
	test_rmtree(dir);
	free(path);
}
END_TEST

/* The probes use /healthz and /readyz, not a bare TCP connect. */
START_TEST(probes_use_health_endpoints)
{
	char	*k8s = read_src("contrib/kubernetes/sidecar.yaml");
	char	*docker = read_src("contrib/Dockerfile");

	ck_assert_msg(strstr(k8s, "readinessProbe:\n            httpGet:\n"
	    "              path: /readyz\n") != NULL,
	    "sidecar.yaml: the readiness probe is not GET /readyz");
	ck_assert_msg(strstr(k8s, "livenessProbe:\n            httpGet:\n"
	    "              path: /healthz\n") != NULL,
	    "sidecar.yaml: the liveness probe is not GET /healthz");
	ck_assert_msg(strstr(k8s, "tcpSocket") == NULL,
	    "sidecar.yaml: a TCP probe is left");
	ck_assert_msg(strstr(docker, "HEALTHCHECK") != NULL &&
	    strstr(strstr(docker, "HEALTHCHECK"), "GET /healthz") != NULL,
	    "Dockerfile: the HEALTHCHECK does not GET /healthz");
	free(k8s);
	free(docker);
}
END_TEST

static Suite *
docs_suite(void)
{
	Suite	*s = suite_create("docs");
	TCase	*tc;

	tc = tcase_create("man");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, man_documents_every_key);
	tcase_add_test(tc, man_documents_no_unknown_key);
	tcase_add_test(tc, man_shows_every_bound);
	tcase_add_test(tc, man_marks_restart_keys);
	tcase_add_test(tc, man_documents_every_subcommand);
	tcase_add_test(tc, man_has_no_groff_warnings);
	suite_add_tcase(s, tc);

	tc = tcase_create("readme");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, readme_documents_every_key);
	tcase_add_test(tc, readme_mentions_every_subcommand);
	suite_add_tcase(s, tc);

	tc = tcase_create("yaml");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, yaml_parser_self_test);
	tcase_add_test(tc, yaml_shows_every_key);
	tcase_add_test(tc, yaml_example_passes_check);
	tcase_add_test(tc, kubernetes_example_config_loads);
	tcase_add_test(tc, probes_use_health_endpoints);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run_suite(docs_suite());
}
