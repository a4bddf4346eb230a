/*
 * cli_journal_vlogs.c - `becknd journal verification-logs`: one
 * transaction of the journal written as ONEST verification logs, the
 * folder a participant submits to ONEST-Network/verification-logs before
 * going live (see ../shared/design/onest-telemetry.md section 2):
 *
 *   DIR/logs/<ORG>-<BAP|BPP>/<Domain Name>/<action>.json     requests
 *                                          on_<action>.json  callbacks
 *
 * Which messages: those of one of our participants (the only one in the
 * transaction, or --participant) that crossed the wire and were ACKed:
 * for a BAP the requests it sent and the callbacks it received, for a BPP
 * the requests it received and the callbacks it sent; a message that was
 * NACKed or not answered is left out, with a note on stderr.
 *
 * Names: a request action sent more than once is <action>-step1.json,
 * -step2...; callbacks of one action from several peers (a BAP's
 * on_search from two BPPs) are on_<action>-<peer id>.json, and several of
 * one peer -step1, -step2... (both: on_<action>-<peer>-step1.json).  Ids
 * are made file-name safe (anything but letters, digits, . _ - becomes _).
 *
 * Nothing is written unless every file passes: the body was kept and is
 * valid JSON (util/jsoncheck.h), its context has the transaction id, the
 * file's action and version 1.1.0, every callback pairs with a request by
 * message_id and every request has its callback.  Each failure names the
 * file it would have been and why.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "store/store_query.h"
#include "util/json.h"
#include "util/jsoncheck.h"
#include "util/xmalloc.h"

#define ONEST_VERSION	"1.1.0"

struct vfile {
	json_object	*row;		/* borrowed from the query */
	long long	 id;
	const char	*action, *peer;
	const char	*body;		/* NULL: not kept */
	size_t		 len;
	int		 request;	/* 1 a request, 0 a callback */
	char		*name;		/* "on_search-bpp1.json" */
	json_object	*doc;		/* the parsed body */
	const char	*message_id;	/* its context.message_id */
	int		 paired;
};

struct vlogs {
	const struct journal_vlogs *v;
	struct vfile	*files;
	size_t		 n;
	const char	*role;
	char		*base;		/* DIR/logs/ORG-ROLE/Domain Name */
	int		 failures;
};

static int
same(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

static void
fail(struct vlogs *vl, const struct vfile *f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "becknd journal: BASE/NAME: reason" (the file it would have been). */
static void
fail(struct vlogs *vl, const struct vfile *f, const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "becknd journal: %s/%s: ", vl->base, f->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	vl->failures++;
}

/* s as one file-name component: [A-Za-z0-9._-], not starting with '.'. */
static char *
safe_name(const char *s)
{
	char	*out, *p;

	out = xstrdup(s != NULL && *s != '\0' ? s : "unknown");
	for (p = out; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
		    (*p == '.' && p != out)))
			*p = '_';
	return out;
}

/* A folder name given or derived: no '/', control character, . or .. */
static int
good_folder(const char *s)
{
	const unsigned char	*p;

	if (*s == '\0' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '/' || *p == '\\')
			return 0;
	return 1;
}

/*
 * The ONEST folder name of a domain: the network's own names, else the
 * part after "onest:" (or the whole) with '-' as ' ' and each word
 * capitalised: onest:courses is "Courses".  xmalloc'd; NULL when no
 * usable name results.
 */
static char *
domain_folder(const char *domain)
{
	static const struct {
		const char	*domain, *folder;
	} known[] = {
		{ "onest:learning-experiences", "Learning Experiences" },
		{ "onest:financial-support", "Financial Support" },
		{ "onest:work-opportunities", "Work Opportunities" },
	};
	char	*out, *p;
	size_t	 i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(domain, known[i].domain) == 0)
			return xstrdup(known[i].folder);
	if (strncmp(domain, "onest:", 6) == 0)
		domain += 6;
	out = xstrdup(domain);
	for (p = out; *p != '\0'; p++) {
		if (*p == '-' || *p == '/' || *p == '\\')
			*p = ' ';
		if ((p == out || p[-1] == ' ') && *p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	}
	if (!good_folder(out) || strspn(out, " ") == strlen(out)) {
		free(out);
		return NULL;
	}
	return out;
}

/* The participant of the flow: --participant or the only one. */
static const char *
pick_participant(const struct journal_vlogs *v, json_object *rows)
{
	const char	*p, *only = NULL;
	char		*list = NULL, *t;
	size_t		 i, k, n = json_object_array_length(rows);
	int		 many = 0, found = 0;

	for (i = 0; i < n; i++) {
		p = cli_json_text(json_object_array_get_idx(rows, i),
		    "participant");
		for (k = 0; k < i; k++)
			if (same(p, cli_json_text(json_object_array_get_idx(
			    rows, k), "participant")))
				break;
		if (k < i)
			continue;
		if (v->participant != NULL && same(p, v->participant))
			found = 1;
		if (only == NULL)
			only = p;
		else
			many = 1;
		xasprintf(&t, "%s%s%s", list != NULL ? list : "",
		    list != NULL ? ", " : "", p != NULL ? p : "?");
		free(list);
		list = t;
	}
	if (v->participant != NULL && !found)
		fprintf(stderr, "becknd journal: transaction %s has no message "
		    "of participant %s (it has %s)\n", v->transaction_id,
		    v->participant, list != NULL ? list : "none");
	else if (v->participant == NULL && many)
		fprintf(stderr, "becknd journal: transaction %s has messages "
		    "of several of our participants (%s): choose one with "
		    "--participant\n", v->transaction_id,
		    list != NULL ? list : "none");
	free(list);
	if (v->participant != NULL)
		return found ? v->participant : NULL;
	return many ? NULL : only;
}

/* The BAP or BPP role of participant in rows; NULL (said) when none. */
static const char *
pick_role(const struct journal_vlogs *v, json_object *rows,
    const char *participant)
{
	json_object	*row;
	const char	*role = NULL, *r;
	size_t		 i, n = json_object_array_length(rows);

	for (i = 0; i < n; i++) {
		row = json_object_array_get_idx(rows, i);
		if (!same(cli_json_text(row, "participant"), participant) ||
		    (r = cli_json_text(row, "role")) == NULL)
			continue;
		if (role != NULL && strcmp(role, r) != 0) {
			fprintf(stderr, "becknd journal: participant %s is "
			    "both %s and %s in transaction %s\n", participant,
			    role, r, v->transaction_id);
			return NULL;
		}
		role = r;
	}
	if (role == NULL || (strcmp(role, "BAP") != 0 &&
	    strcmp(role, "BPP") != 0)) {
		fprintf(stderr, "becknd journal: participant %s is %s in "
		    "transaction %s: verification logs are a BAP's or a "
		    "BPP's\n", participant, role != NULL ? role :
		    "of no known role", v->transaction_id);
		return NULL;
	}
	return role;
}

/* The flow's messages of participant (see the top of the file). */
static void
select_files(struct vlogs *vl, json_object *rows, const char *participant)
{
	json_object	*row, *b;
	struct vfile	*f;
	const char	*action, *dir, *ack, *want;
	size_t		 i, n = json_object_array_length(rows);
	int		 cb;

	vl->files = xcalloc(n > 0 ? n : 1, sizeof(*vl->files));
	/* A BAP sends requests and receives callbacks; a BPP the reverse. */
	want = strcmp(vl->role, "BAP") == 0 ? "out" : "in";
	for (i = 0; i < n; i++) {
		row = json_object_array_get_idx(rows, i);
		if (!same(cli_json_text(row, "participant"), participant))
			continue;
		action = cli_json_text(row, "action");
		dir = cli_json_text(row, "direction");
		ack = cli_json_text(row, "ack");
		cb = strncmp(action, "on_", 3) == 0;
		if (cb == (strcmp(dir, want) == 0)) {
			fprintf(stderr, "becknd journal: note: #%lld %s "
			    "(%s) left out: not part of a %s's flow\n",
			    (long long)json_object_get_int64(
			    json_object_object_get(row, "id")), action, dir,
			    vl->role);
			continue;
		}
		if (ack == NULL || strcmp(ack, "ACK") != 0) {
			fprintf(stderr, "becknd journal: note: #%lld %s "
			    "(%s) left out: %s\n", (long long)
			    json_object_get_int64(json_object_object_get(row,
			    "id")), action, dir, ack != NULL ? ack :
			    "no answer");
			continue;
		}
		f = &vl->files[vl->n++];
		f->row = row;
		f->id = json_object_get_int64(json_object_object_get(row,
		    "id"));
		f->action = action;
		f->peer = cli_json_text(row, "peer");
		f->request = !cb;
		if (json_object_object_get_ex(row, "body", &b) && b != NULL) {
			f->body = json_object_get_string(b);
			f->len = (size_t)json_object_get_string_len(b);
		}
	}
}

/* File names (see the top of the file). */
static void
name_files(struct vlogs *vl)
{
	struct vfile	*f, *g;
	char		*action, *peer, step[32];
	size_t		 i, k;
	int		 count, nth, peers;

	for (i = 0; i < vl->n; i++) {
		f = &vl->files[i];
		count = nth = peers = 0;
		for (k = 0; k < vl->n; k++) {
			g = &vl->files[k];
			if (g->request != f->request ||
			    strcmp(g->action, f->action) != 0)
				continue;
			if (!f->request && !same(g->peer, f->peer)) {
				/* Count each other peer once. */
				size_t	 m;

				for (m = 0; m < k; m++)
					if (vl->files[m].request == 0 &&
					    strcmp(vl->files[m].action,
					    f->action) == 0 &&
					    same(vl->files[m].peer, g->peer))
						break;
				if (m == k)
					peers++;
				continue;
			}
			count++;
			if (k <= i)
				nth++;
		}
		action = safe_name(f->action);
		peer = safe_name(f->peer);
		step[0] = '\0';
		if (count > 1)
			snprintf(step, sizeof(step), "-step%d", nth);
		xasprintf(&f->name, "%s%s%s%s.json", action, peers > 0 ? "-" :
		    "", peers > 0 ? peer : "", step);
		free(action);
		free(peer);
	}
}

/* The checks of one file, before anything is written. */
static void
check_file(struct vlogs *vl, struct vfile *f)
{
	struct jsoncheck_error	 e;
	struct json_tokener	*tok;
	json_object		*ctx;
	const char		*v;
	size_t			 k;

	for (k = 0; k < (size_t)(f - vl->files); k++)
		if (strcmp(vl->files[k].name, f->name) == 0) {
			fail(vl, f, "two messages (#%lld and #%lld) would "
			    "have this name", vl->files[k].id, f->id);
			return;
		}
	if (f->body == NULL) {
		fail(vl, f, "the body of #%lld was not kept (store.bodies: "
		    "none)", f->id);
		return;
	}
	if (jsoncheck(f->body, f->len, NULL, &e) == -1) {
		fail(vl, f, "not valid JSON: %s at byte %zu (#%lld)",
		    e.reason, e.offset, f->id);
		return;
	}
	tok = json_tokener_new_ex(JSONCHECK_MAX_DEPTH_DEFAULT);
	f->doc = json_tokener_parse_ex(tok, f->body, (int)f->len);
	json_tokener_free(tok);
	if (f->doc == NULL || !json_object_object_get_ex(f->doc, "context",
	    &ctx) || !json_object_is_type(ctx, json_type_object)) {
		fail(vl, f, "no context object (#%lld)", f->id);
		return;
	}
	if (!same(v = json_str(ctx, "transaction_id"),
	    vl->v->transaction_id))
		fail(vl, f, "context.transaction_id is %s%s%s, not %s "
		    "(#%lld)", v != NULL ? "\"" : "", v != NULL ? v :
		    "missing", v != NULL ? "\"" : "", vl->v->transaction_id,
		    f->id);
	if (!same(v = json_str(ctx, "version"), ONEST_VERSION))
		fail(vl, f, "context.version is %s%s%s, not " ONEST_VERSION
		    " (#%lld)", v != NULL ? "\"" : "", v != NULL ? v :
		    "missing", v != NULL ? "\"" : "", f->id);
	if (!same(v = json_str(ctx, "action"), f->action))
		fail(vl, f, "context.action is %s%s%s, not %s (#%lld)",
		    v != NULL ? "\"" : "", v != NULL ? v : "missing",
		    v != NULL ? "\"" : "", f->action, f->id);
	if ((f->message_id = json_str(ctx, "message_id")) == NULL)
		fail(vl, f, "no context.message_id (#%lld)", f->id);
}

/* Every callback answers a request (same message_id), every request is
 * answered. */
static void
check_pairs(struct vlogs *vl)
{
	struct vfile	*f, *g;
	size_t		 i, k;

	for (i = 0; i < vl->n; i++) {
		f = &vl->files[i];
		if (f->request || f->message_id == NULL)
			continue;
		for (k = 0; k < vl->n; k++) {
			g = &vl->files[k];
			if (g->request && same(g->message_id, f->message_id) &&
			    strcmp(g->action, f->action + 3) == 0) {
				f->paired = g->paired = 1;
				break;
			}
		}
		if (!f->paired)
			fail(vl, f, "no %s request with message_id %s in "
			    "the flow (#%lld)", f->action + 3, f->message_id,
			    f->id);
	}
	for (i = 0; i < vl->n; i++) {
		f = &vl->files[i];
		if (f->request && f->message_id != NULL && !f->paired)
			fail(vl, f, "no on_%s callback with message_id %s in "
			    "the flow (#%lld)", f->action, f->message_id,
			    f->id);
	}
}

/* mkdir -p; -1 with errno. */
static int
mkdirs(const char *path)
{
	struct stat	 sb;
	char		*copy = xstrdup(path), *p, c;
	int		 rc = 0;

	for (p = copy + 1; rc == 0; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		if (mkdir(copy, 0777) == -1 && errno != EEXIST)
			rc = -1;
		if ((*p = c) == '\0')
			break;
	}
	free(copy);
	if (rc == 0 && stat(path, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
		errno = ENOTDIR;
		rc = -1;
	}
	return rc;
}

static int
write_files(struct vlogs *vl)
{
	struct vfile	*f;
	FILE		*fp;
	char		*path;
	size_t		 i;
	int		 bad;

	if (mkdirs(vl->base) == -1) {
		fprintf(stderr, "becknd journal: %s: %s\n", vl->base,
		    strerror(errno));
		return -1;
	}
	for (i = 0; i < vl->n; i++) {
		f = &vl->files[i];
		xasprintf(&path, "%s/%s", vl->base, f->name);
		if ((fp = fopen(path, "wb")) == NULL) {
			fprintf(stderr, "becknd journal: %s: %s\n", path,
			    strerror(errno));
			free(path);
			return -1;
		}
		bad = vl->v->pretty ? cli_json_pretty(fp, f->body, f->len) :
		    fwrite(f->body, 1, f->len, fp) == f->len ? 0 : -1;
		if (fclose(fp) == EOF || bad) {
			fprintf(stderr, "becknd journal: %s: %s\n", path,
			    strerror(errno));
			free(path);
			return -1;
		}
		printf("%s\n", path);
		free(path);
	}
	return 0;
}

/* The domain folder: --domain-name, or from the first message's domain. */
static char *
folder(struct vlogs *vl)
{
	const char	*d = NULL;
	size_t		 i;
	char		*out;

	if (vl->v->domain_name != NULL)
		return xstrdup(vl->v->domain_name);
	for (i = 0; i < vl->n && d == NULL; i++)
		d = cli_json_text(vl->files[i].row, "domain");
	if (d == NULL) {
		fprintf(stderr, "becknd journal: transaction %s: no domain in "
		    "the journal: give --domain-name\n",
		    vl->v->transaction_id);
		return NULL;
	}
	if ((out = domain_folder(d)) == NULL)
		fprintf(stderr, "becknd journal: domain \"%s\" makes no "
		    "folder name: give --domain-name\n", d);
	return out;
}

int
cli_journal_vlogs(struct store_reader *r, const struct journal_vlogs *v)
{
	struct vlogs	 vl;
	json_object	*q, *rows;
	const char	*participant;
	char		 err[1024], *dname = NULL;
	size_t		 i;
	int		 rc = 1;

	memset(&vl, 0, sizeof(vl));
	vl.v = v;
	if (!good_folder(v->org) || (v->domain_name != NULL &&
	    !good_folder(v->domain_name))) {
		fprintf(stderr, "becknd journal: --org and --domain-name are "
		    "folder names: not empty, no '/', '\\' or control "
		    "characters\n");
		return 2;
	}
	if ((q = store_query_transaction(r, v->transaction_id, err,
	    sizeof(err))) == NULL) {
		if (errno == ENOENT)
			fprintf(stderr, "becknd journal: %s: no transaction "
			    "%s\n", v->store, v->transaction_id);
		else
			fprintf(stderr, "becknd journal: %s\n", err);
		return 1;
	}
	rows = json_object_object_get(q, "messages");
	if ((participant = pick_participant(v, rows)) == NULL ||
	    (vl.role = pick_role(v, rows, participant)) == NULL)
		goto done;
	select_files(&vl, rows, participant);
	if (vl.n == 0) {
		fprintf(stderr, "becknd journal: transaction %s has no ACKed "
		    "message of %s\n", v->transaction_id, participant);
		goto done;
	}
	if ((dname = folder(&vl)) == NULL)
		goto done;
	xasprintf(&vl.base, "%s/logs/%s-%s/%s", v->dir, v->org, vl.role,
	    dname);
	name_files(&vl);
	for (i = 0; i < vl.n; i++) {
		check_file(&vl, &vl.files[i]);
		/* A body that cannot tell: pair by the journal's id. */
		if (vl.files[i].message_id == NULL)
			vl.files[i].message_id = cli_json_text(vl.files[i].row,
			    "message_id");
	}
	check_pairs(&vl);
	if (vl.failures > 0) {
		fprintf(stderr, "becknd journal: %d problem%s: nothing "
		    "written\n", vl.failures, vl.failures == 1 ? "" : "s");
		goto done;
	}
	if (write_files(&vl) == -1)
		goto done;
	printf("pull request title: %s-%s-%s- API Payloads\n", v->org,
	    vl.role, dname);
	rc = 0;
done:
	for (i = 0; i < vl.n; i++) {
		free(vl.files[i].name);
		json_object_put(vl.files[i].doc);
	}
	free(vl.files);
	free(vl.base);
	free(dname);
	json_object_put(q);
	return rc;
}
