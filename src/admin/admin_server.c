/*
 * admin_server.c - the admin API (see admin_server.h).
 *
 * The loop side authenticates, routes, decodes and parses each request
 * into a job (every string the query needs is copied into it); the reader
 * thread runs jobs in order and leaves the answer in the job; the loop
 * sends it.  A job belongs to exactly one list at a time: queue (waiting,
 * under the lock), the thread's hands (running), done (under the lock),
 * so that the loop and the thread never touch a job at the same time.
 * Only the loop touches the request inside a job.
 */
#include "config.h"

#include <sys/queue.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/util.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "admin/admin_server.h"
#include "http/http_server.h"
#include "store/store_query.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define QUERIES_MAX	64
#define EXPORT_MAX	((size_t)64 << 20)
#define DIGEST_LEN	32		/* SHA-256 */

enum job_kind {
	JOB_TRANSACTIONS,
	JOB_TRANSACTION,
	JOB_MESSAGES,
	JOB_MESSAGE,
	JOB_EXPORT,
	JOB_REDELIVER,
};

struct job {
	TAILQ_ENTRY(job)	 entry;
	struct http_request	*req;		/* the loop's only */
	enum job_kind		 kind;
	char			*id;		/* decoded path segment */
	char			*query;		/* filter strings point here */
	struct store_filter	 filter;
	int			 bodies;
	int			 csv;		/* export format */
	size_t			 cap;		/* export bytes */
	/* The answer, set by the thread. */
	int			 status;
	const char		*ctype;
	char			*body;
	size_t			 len;
};

TAILQ_HEAD(jobq, job);

struct extra_route {
	char			*path;
	int			 flags;
	http_handler		 fn;
	void			*arg;
};

struct admin_server {
	struct http_server	*srv;
	char			*store_path;
	int			 has_token;
	unsigned char		 token[DIGEST_LEN];
	struct extra_route	*extra;
	size_t			 nextra;
	size_t			 njobs;		/* accepted, not yet answered */
	size_t			 queries_max;
	size_t			 export_max;
	/* Loop <-> thread. */
	pthread_t		 thread;
	int			 started;
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	struct jobq		 queue;		/* under lock */
	struct jobq		 done;		/* under lock */
	int			 stop;		/* under lock */
	int			 wake[2];	/* thread -> loop */
	struct event		*wake_ev;
	/* The thread's own. */
	struct store_reader	*reader;
};

/* ---- answers ---------------------------------------------------------- */

/* {"error":msg}, xmalloc'd. */
static char *
error_json(const char *msg, size_t *len)
{
	json_object	*o = json_object_new_object();
	const char	*s;
	char		*out;

	json_object_object_add(o, "error", json_object_new_string(msg));
	s = json_object_to_json_string_ext(o, STORE_JSON_FLAGS);
	*len = strlen(s);
	out = xmemdup(s, *len + 1);
	json_object_put(o);
	return out;
}

static void
reply_error(struct http_request *req, int status, const char *msg,
    const char *const *headers)
{
	static const char *const plain[] = {
		"Cache-Control", "no-store", NULL
	};
	char	*body;
	size_t	 len;

	body = error_json(msg, &len);
	http_reply(req, status, "application/json", headers != NULL ?
	    headers : plain, body, len);
	free(body);
}

static void
free_body(const void *data, size_t len, void *arg)
{
	free((void *)data);
}

static void
job_free(struct job *j)
{
	free(j->body);
	free(j->id);
	free(j->query);
	free(j);
}

/* Send a job's answer (or drop it: the client left) and free the job. */
static void
job_answer(struct admin_server *as, struct job *j)
{
	static const char *const csv_headers[] = {
		"Cache-Control", "no-store",
		"Content-Disposition", "attachment; "
		"filename=\"becknd-export.csv\"", NULL
	};
	static const char *const jsonl_headers[] = {
		"Cache-Control", "no-store",
		"Content-Disposition", "attachment; "
		"filename=\"becknd-export.jsonl\"", NULL
	};
	static const char *const plain[] = {
		"Cache-Control", "no-store", NULL
	};
	const char *const	*headers = plain;
	struct evbuffer		*buf;

	as->njobs--;
	if (j->status >= 500)
		log_warn("admin: %s %s: %d %.*s", http_request_method(j->req),
		    http_request_path(j->req), j->status, (int)j->len,
		    j->body);
	if (http_request_gone(j->req) || (buf = evbuffer_new()) == NULL) {
		log_debug("admin: %s %s: the client left; answer dropped",
		    http_request_method(j->req), http_request_path(j->req));
		http_request_drop(j->req);
		goto done;
	}
	if (j->kind == JOB_EXPORT && j->status == 200)
		headers = j->csv ? csv_headers : jsonl_headers;
	/* The body moves to the connection without a copy. */
	if (j->len > 0 && evbuffer_add_reference(buf, j->body, j->len,
	    free_body, NULL) == 0)
		j->body = NULL;
	else if (j->len > 0)
		evbuffer_add(buf, j->body, j->len);
	http_reply_buffer(j->req, j->status, j->ctype, headers, buf);
	evbuffer_free(buf);
done:
	job_free(j);
}

/* ---- the reader thread ------------------------------------------------ */

static void
job_set(struct job *j, int status, const char *ctype, char *body,
    size_t len)
{
	j->status = status;
	j->ctype = ctype;
	j->body = body;
	j->len = len;
}

static void
job_error(struct job *j, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
job_error(struct job *j, int status, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[1024];
	size_t	 len;
	char	*body;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	body = error_json(msg, &len);
	job_set(j, status, "application/json", body, len);
}

static void
job_json(struct job *j, json_object *o)
{
	const char	*s;
	size_t		 len;

	/* As the CLI writes them: one text for one object. */
	s = json_object_to_json_string_length(o, STORE_JSON_FLAGS, &len);
	job_set(j, j->kind == JOB_REDELIVER ? 202 : 200, "application/json",
	    xmemdup(s, len + 1), len);
	json_object_put(o);
}

struct out {
	char	*buf;
	size_t	 len, size, cap;
	int	 over;
};

static int
out_write(const char *s, size_t n, void *arg)
{
	struct out	*o = arg;
	size_t		 size;

	if (n > o->cap - o->len) {
		o->over = 1;
		return -1;
	}
	if (o->len + n > o->size) {
		size = o->size == 0 ? 65536 : o->size;
		while (size < o->len + n)
			size *= 2;
		if (size > o->cap)
			size = o->cap;
		o->buf = xrealloc(o->buf, size);
		o->size = size;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	return 0;
}

static void
run_export(struct admin_server *as, struct job *j)
{
	struct out	 o;
	char		 err[512];

	memset(&o, 0, sizeof(o));
	o.cap = j->cap;
	if (store_export(as->reader, &j->filter, j->csv ? "csv" : "jsonl",
	    out_write, &o, err, sizeof(err)) == 0) {
		job_set(j, 200, j->csv ? "text/csv; charset=utf-8" :
		    "application/x-ndjson", o.buf, o.len);
		return;
	}
	free(o.buf);
	if (o.over) {
		job_error(j, 413, "the export is over %zu MiB: narrow the "
		    "filter (since, until, transaction, ...) or use `becknd "
		    "journal export`", j->cap >> 20);
		return;
	}
	job_error(j, 500, "store unreadable: %s", err);
	store_reader_close(as->reader);
	as->reader = NULL;
}

/*
 * The store names its own failures "PATH: reason" (500); the others are
 * about the id: none (404), or not in a state to send again (409).
 */
static int
requeue_status(const struct admin_server *as, const char *err)
{
	size_t	 n = strlen(as->store_path);

	if (strncmp(err, as->store_path, n) == 0 && err[n] == ':')
		return 500;
	if (strncmp(err, "no ", 3) == 0 || strstr(err, "not found") != NULL)
		return 404;
	return 409;
}

static void
run_redeliver(struct admin_server *as, struct job *j)
{
	json_object	*o;
	char		 err[512];
	int		 status;

	if (store_requeue(as->store_path, j->id, err, sizeof(err)) == -1) {
		status = requeue_status(as, err);
		job_error(j, status, "%s%s", status == 500 ? "store: " : "",
		    err);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "requeued", json_object_new_string(j->id));
	job_json(j, o);
}

static void
job_run(struct admin_server *as, struct job *j)
{
	json_object	*o = NULL;
	char		 err[512];

	if (j->kind == JOB_REDELIVER) {
		run_redeliver(as, j);
		return;
	}
	if (as->reader == NULL && (as->reader = store_reader_open(
	    as->store_path, err, sizeof(err))) == NULL) {
		job_error(j, 500, "store unreadable: %s", err);
		return;
	}
	err[0] = '\0';
	switch (j->kind) {
	case JOB_TRANSACTIONS:
		o = store_query_transactions(as->reader, &j->filter, err,
		    sizeof(err));
		break;
	case JOB_TRANSACTION:
		o = store_query_transaction(as->reader, j->id, err,
		    sizeof(err));
		break;
	case JOB_MESSAGES:
		o = store_query_messages(as->reader, &j->filter, j->bodies,
		    err, sizeof(err));
		break;
	case JOB_MESSAGE:
		o = store_query_message(as->reader, j->id, err, sizeof(err));
		break;
	case JOB_EXPORT:
		run_export(as, j);
		return;
	case JOB_REDELIVER:
		break;
	}
	if (o != NULL) {
		job_json(j, o);
		return;
	}
	if ((j->kind == JOB_TRANSACTION || j->kind == JOB_MESSAGE) &&
	    strstr(err, "not found") != NULL) {
		job_error(j, 404, "%s %s not found", j->kind ==
		    JOB_TRANSACTION ? "transaction" : "message", j->id);
		return;
	}
	job_error(j, 500, "store unreadable: %s", err);
	/* Open afresh for the next query. */
	store_reader_close(as->reader);
	as->reader = NULL;
}

static void *
reader_main(void *arg)
{
	struct admin_server	*as = arg;
	struct job		*j;

	pthread_mutex_lock(&as->lock);
	for (;;) {
		while (!as->stop && TAILQ_EMPTY(&as->queue))
			pthread_cond_wait(&as->cond, &as->lock);
		if (as->stop)
			break;
		j = TAILQ_FIRST(&as->queue);
		TAILQ_REMOVE(&as->queue, j, entry);
		pthread_mutex_unlock(&as->lock);
		job_run(as, j);
		pthread_mutex_lock(&as->lock);
		TAILQ_INSERT_TAIL(&as->done, j, entry);
		/* A full pipe (EAGAIN) has a wake-up pending already. */
		while (write(as->wake[1], "", 1) == -1 && errno == EINTR)
			;
	}
	pthread_mutex_unlock(&as->lock);
	store_reader_close(as->reader);
	as->reader = NULL;
	return NULL;
}

/* Answers are in: send them. */
static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct admin_server	*as = arg;
	struct jobq		 done;
	struct job		*j;
	char			 buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	TAILQ_INIT(&done);
	pthread_mutex_lock(&as->lock);
	TAILQ_CONCAT(&done, &as->done, entry);
	pthread_mutex_unlock(&as->lock);
	while ((j = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, j, entry);
		job_answer(as, j);
	}
}

/* ---- the loop side ---------------------------------------------------- */

/*
 * The API's routes.  In a pattern, '*' is one path segment (not empty);
 * the first route whose pattern matches the path and whose method is the
 * request's wins; a path some route matches under another method is 405.
 */
static const struct route {
	const char	*method;
	const char	*pattern;
	enum job_kind	 kind;
} routes[] = {
	{ "GET",	"/api/transactions",		JOB_TRANSACTIONS },
	{ "GET",	"/api/transactions/*",		JOB_TRANSACTION },
	{ "GET",	"/api/messages",		JOB_MESSAGES },
	{ "GET",	"/api/messages/*",		JOB_MESSAGE },
	{ "GET",	"/api/export",			JOB_EXPORT },
	{ "POST",	"/api/deliveries/*/redeliver",	JOB_REDELIVER },
};

/* 1 when path matches pattern; *seg and *seglen: the '*' segment. */
static int
route_match(const char *pattern, const char *path, const char **seg,
    size_t *seglen)
{
	const char	*p = path;
	size_t		 n;

	*seg = NULL;
	*seglen = 0;
	for (; *pattern != '\0'; pattern++) {
		if (*pattern != '*') {
			if (*p++ != *pattern)
				return 0;
			continue;
		}
		if ((n = strcspn(p, "/")) == 0)
			return 0;
		*seg = p;
		*seglen = n;
		p += n;
	}
	return *p == '\0';
}

/* The %-decoded segment (xmalloc'd), or NULL: a bad escape or %00. */
static char *
segment_decode(const char *s, size_t len)
{
	char	*out = xmalloc(len + 1), *w = out;
	size_t	 i;
	int	 h, l;

	for (i = 0; i < len; i++) {
		if (s[i] != '%') {
			*w++ = s[i];
			continue;
		}
		if (i + 2 >= len)
			goto bad;
		if ((h = hex_digit((unsigned char)s[i + 1])) < 0 ||
		    (l = hex_digit((unsigned char)s[i + 2])) < 0 ||
		    (h | l) == 0)
			goto bad;
		*w++ = (char)(h << 4 | l);
		i += 2;
	}
	*w = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

/*
 * Take the parameter name out of the query q (edited in place): its
 * value, %-decoded, in *val (xmalloc'd; NULL when absent).  -1 when the
 * value has a bad escape or the parameter is repeated.
 */
static int
take_param(char *q, const char *name, char **val)
{
	char	*p, *next, *w = q;
	size_t	 n = strlen(name), len;

	*val = NULL;
	for (p = q; *p != '\0'; p = next) {
		len = strcspn(p, "&");
		next = p[len] == '&' ? p + len + 1 : p + len;
		if (strncmp(p, name, n) == 0 && p[n] == '=' && len > n) {
			if (*val != NULL || (*val = segment_decode(p + n + 1,
			    len - n - 1)) == NULL)
				goto bad;
			continue;
		}
		if (w != q)
			*w++ = '&';
		memmove(w, p, len);
		w += len;
	}
	*w = '\0';
	return 0;
bad:
	free(*val);
	*val = NULL;
	return -1;
}

/* Parse the query's filter into j; -1 and msg for a 400. */
static int
job_filter(struct admin_server *as, struct job *j, struct http_request *req,
    char *msg, size_t msglen)
{
	const char	*q = http_request_query(req);
	char		*v;

	j->query = xstrdup(q != NULL ? q : "");
	if (j->kind == JOB_MESSAGES) {
		if (take_param(j->query, "bodies", &v) == -1 || (v != NULL &&
		    strcmp(v, "0") != 0 && strcmp(v, "1") != 0)) {
			free(v);
			snprintf(msg, msglen, "bodies: 0 or 1");
			return -1;
		}
		j->bodies = v != NULL && v[0] == '1';
		free(v);
	}
	if (j->kind == JOB_EXPORT) {
		if (take_param(j->query, "format", &v) == -1 || v == NULL ||
		    (strcmp(v, "csv") != 0 && strcmp(v, "jsonl") != 0)) {
			free(v);
			snprintf(msg, msglen, "format: csv or jsonl");
			return -1;
		}
		j->csv = v[0] == 'c';
		j->cap = as->export_max;
		free(v);
	}
	return store_filter_parse_query(&j->filter, j->query, msg, msglen);
}

/* Authorization: Bearer TOKEN, when a token is set; 1 when it passes. */
static int
authorized(const struct admin_server *as, struct http_request *req)
{
	unsigned char	 d[DIGEST_LEN];
	unsigned int	 dlen = 0;
	const char	*h;

	if (!as->has_token)
		return 1;
	if ((h = http_request_header(req, "Authorization")) == NULL ||
	    strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
		return 0;
	for (h += 6; *h == ' ' || *h == '\t'; h++)
		;
	/* Equal digests take the same time whatever the bytes. */
	if (EVP_Digest(h, strlen(h), d, &dlen, EVP_sha256(), NULL) != 1 ||
	    dlen != DIGEST_LEN)
		return 0;
	return CRYPTO_memcmp(d, as->token, DIGEST_LEN) == 0;
}

static void
reply_unauthorized(struct http_request *req)
{
	static const char *const h[] = {
		"WWW-Authenticate", "Bearer realm=\"becknd\"",
		"Cache-Control", "no-store", NULL
	};

	reply_error(req, 401, "a valid bearer token is needed "
	    "(Authorization: Bearer TOKEN)", h);
}

static void
handle(struct http_request *req, void *arg)
{
	static const char *const busy[] = {
		"Retry-After", "1", "Cache-Control", "no-store", NULL
	};
	struct admin_server	*as = arg;
	const char		*path = http_request_path(req);
	const char		*method = http_request_method(req);
	const struct route	*r = NULL;
	const char		*seg = NULL;
	const char		*allow[] = { "Allow", NULL, "Cache-Control",
				    "no-store", NULL };
	struct job		*j;
	size_t			 i, seglen = 0;
	char			 msg[512];

	for (i = 0; i < as->nextra; i++) {
		if (strcmp(as->extra[i].path, path) != 0)
			continue;
		if (!(as->extra[i].flags & ADMIN_ROUTE_OPEN) &&
		    !authorized(as, req))
			reply_unauthorized(req);
		else
			as->extra[i].fn(req, as->extra[i].arg);
		return;
	}
	if (!authorized(as, req)) {
		reply_unauthorized(req);
		return;
	}
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!route_match(routes[i].pattern, path, &seg, &seglen))
			continue;
		if (strcmp(routes[i].method, method) == 0) {
			r = &routes[i];
			break;
		}
		allow[1] = routes[i].method;
	}
	if (r == NULL && allow[1] != NULL) {
		snprintf(msg, sizeof(msg), "%s: use %s", path, allow[1]);
		reply_error(req, 405, msg, allow);
		return;
	}
	if (r == NULL) {
		reply_error(req, 404, "no such route: the API is under /api/",
		    NULL);
		return;
	}
	if (as->store_path == NULL) {
		reply_error(req, 404, "store: off: there is no journal to "
		    "show (set store.path)", NULL);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->kind = r->kind;
	if (seg != NULL && (j->id = segment_decode(seg, seglen)) == NULL) {
		snprintf(msg, sizeof(msg), "bad %%-escape in the path");
		goto bad;
	}
	if ((j->kind == JOB_TRANSACTIONS || j->kind == JOB_MESSAGES ||
	    j->kind == JOB_EXPORT) && job_filter(as, j, req, msg,
	    sizeof(msg)) == -1)
		goto bad;
	if (as->njobs >= as->queries_max) {
		job_free(j);
		reply_error(req, 503, "busy: too many queries waiting; retry",
		    busy);
		return;
	}
	j->req = req;
	as->njobs++;
	pthread_mutex_lock(&as->lock);
	TAILQ_INSERT_TAIL(&as->queue, j, entry);
	pthread_cond_signal(&as->cond);
	pthread_mutex_unlock(&as->lock);
	return;
bad:
	job_free(j);
	reply_error(req, 400, msg, NULL);
}

static const char *
error_body(int status, const char *why, struct evbuffer *out, void *arg)
{
	char	*body;
	size_t	 len;

	body = error_json(why, &len);
	evbuffer_add(out, body, len);
	free(body);
	return "application/json";
}

/* ---- set-up ----------------------------------------------------------- */

/* Each at most once: two would leave which one was checked ambiguous. */
static const char *const unique_headers[] = { "Authorization", NULL };

static void
server_conf(struct http_server_conf *hc)
{
	memset(hc, 0, sizeof(*hc));
	hc->header_max = 16384;
	hc->body_max = 65536;		/* no route reads a body */
	hc->read_timeout_ms = 10000;
	hc->idle_timeout_ms = 60000;
	hc->write_timeout_ms = 60000;	/* an export to a slow client */
	hc->max_connections = 256;
	hc->unique_headers = unique_headers;
}

static int
pipe_nonblock(int fd[2])
{
	if (pipe(fd) == -1)
		return -1;
	if (evutil_make_socket_nonblocking(fd[0]) == -1 ||
	    evutil_make_socket_nonblocking(fd[1]) == -1 ||
	    evutil_make_socket_closeonexec(fd[0]) == -1 ||
	    evutil_make_socket_closeonexec(fd[1]) == -1) {
		close(fd[0]);
		close(fd[1]);
		fd[0] = fd[1] = -1;
		return -1;
	}
	return 0;
}

struct admin_server *
admin_server_new(struct event_base *base, const char *hostport,
    const char *token, const char *store_path, char *err, size_t errlen)
{
	struct admin_server	*as;
	struct http_server_conf	 hc;
	sigset_t		 all, old;
	int			 rc;

	as = xcalloc(1, sizeof(*as));
	as->wake[0] = as->wake[1] = -1;
	as->store_path = store_path != NULL ? xstrdup(store_path) : NULL;
	as->queries_max = QUERIES_MAX;
	as->export_max = EXPORT_MAX;
	TAILQ_INIT(&as->queue);
	TAILQ_INIT(&as->done);
	pthread_mutex_init(&as->lock, NULL);
	pthread_cond_init(&as->cond, NULL);
	admin_server_set_token(as, token);
	if (pipe_nonblock(as->wake) == -1) {
		snprintf(err, errlen, "admin: pipe: %s", strerror(errno));
		goto bad;
	}
	if ((as->wake_ev = event_new(base, as->wake[0], EV_READ | EV_PERSIST,
	    wake_cb, as)) == NULL || event_add(as->wake_ev, NULL) == -1) {
		snprintf(err, errlen, "admin: cannot watch the reader thread");
		goto bad;
	}
	server_conf(&hc);
	if ((as->srv = http_server_new(base, hostport, &hc, handle,
	    error_body, as, err, errlen)) == NULL)
		goto bad;
	/* Signals are the loop's: the thread takes none. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&as->thread, NULL, reader_main, as);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "admin: reader thread: %s",
		    strerror(rc));
		goto bad;
	}
	as->started = 1;
	return as;
bad:
	admin_server_free(as);
	return NULL;
}

void
admin_server_set_token(struct admin_server *as, const char *token)
{
	unsigned int	 dlen = 0;

	as->has_token = 0;
	explicit_wipe(as->token, sizeof(as->token));
	if (token == NULL || *token == '\0')
		return;
	if (EVP_Digest(token, strlen(token), as->token, &dlen, EVP_sha256(),
	    NULL) != 1 || dlen != DIGEST_LEN) {
		/* Fail closed: no digest matches an all-zero one. */
		log_error("admin: cannot hash the token; every request "
		    "will be refused");
		memset(as->token, 0, sizeof(as->token));
	}
	as->has_token = 1;
}

int
admin_server_route(struct admin_server *as, const char *path, int flags,
    http_handler fn, void *arg)
{
	size_t	 i;

	if (path[0] != '/')
		return -1;
	for (i = 0; i < as->nextra; i++)
		if (strcmp(as->extra[i].path, path) == 0)
			return -1;
	as->extra = xreallocarray(as->extra, as->nextra + 1,
	    sizeof(*as->extra));
	as->extra[as->nextra].path = xstrdup(path);
	as->extra[as->nextra].flags = flags;
	as->extra[as->nextra].fn = fn;
	as->extra[as->nextra].arg = arg;
	as->nextra++;
	return 0;
}

void
admin_server_set_limits(struct admin_server *as, size_t queries,
    size_t export_max)
{
	if (queries > 0)
		as->queries_max = queries;
	if (export_max > 0)
		as->export_max = export_max;
}

int
admin_server_port(const struct admin_server *as)
{
	return http_server_port(as->srv);
}

void
admin_server_free(struct admin_server *as)
{
	struct job	*j;
	size_t		 i;

	if (as == NULL)
		return;
	if (as->started) {
		pthread_mutex_lock(&as->lock);
		as->stop = 1;
		pthread_cond_signal(&as->cond);
		pthread_mutex_unlock(&as->lock);
		pthread_join(as->thread, NULL);
	}
	/* The thread is gone: the lists are the loop's now. */
	while ((j = TAILQ_FIRST(&as->queue)) != NULL) {
		TAILQ_REMOVE(&as->queue, j, entry);
		http_request_drop(j->req);
		job_free(j);
	}
	while ((j = TAILQ_FIRST(&as->done)) != NULL) {
		TAILQ_REMOVE(&as->done, j, entry);
		http_request_drop(j->req);
		job_free(j);
	}
	http_server_free(as->srv);
	if (as->wake_ev != NULL)
		event_free(as->wake_ev);
	if (as->wake[0] != -1)
		close(as->wake[0]);
	if (as->wake[1] != -1)
		close(as->wake[1]);
	pthread_cond_destroy(&as->cond);
	pthread_mutex_destroy(&as->lock);
	for (i = 0; i < as->nextra; i++)
		free(as->extra[i].path);
	free(as->extra);
	explicit_wipe(as->token, sizeof(as->token));
	free(as->store_path);
	free(as);
}
