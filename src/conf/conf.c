/*
 * conf.c - YAML configuration: key table, parsing, validation.
 *
 * The file is loaded with libyaml's document API so that every node keeps
 * its line number for error messages.  Scalars go through ${VAR}
 * expansion, then through the typed setter named by the key table.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "conf/conf.h"
#include "sig/sig.h"
#include "util/duration.h"
#include "util/hostport.h"
#include "util/readfile.h"
#include "util/xmalloc.h"

#define CONF_FILE_MAX		(1 << 20)
#define CONF_PARTICIPANTS_MAX	256
#define CONF_LIST_MAX		64
#define KEY_FILE_MAX		8192

enum ck_type {
	CK_STR,
	CK_DURATION,
	CK_SIZE,	/* bytes, with optional K/M/G suffix (binary) */
	CK_INT,
	CK_SIZE_T,	/* plain count stored in a size_t */
	CK_BOOL,
	CK_STRLIST,
	CK_ROLE,
	CK_LOGLEVEL,
	CK_PATH,	/* string, resolved relative to the config's folder */
	CK_PATHLIST,
	CK_STRMAP,	/* a mapping of words to strings: "key=value" list */
};

enum ck_scope { SCOPE_CONF, SCOPE_PARTICIPANT };

#define CKF_RESTART	0x01	/* bound at start: SIGHUP cannot change it */
#define CKF_OFF		0x02	/* CK_DURATION: the word "off" stores 0 */
#define CKF_KEY		0x04	/* names the participant's private key */

/*
 * min and max bound CK_INT, CK_SIZE_T, CK_SIZE (bytes) and CK_DURATION
 * (milliseconds).  Every such key has bounds: an unbounded value is a
 * misconfiguration waiting to happen (a 0s backoff spins, a 0 refresh
 * interval lifts the registry rate limit).
 */
struct conf_key {
	const char	*name;
	enum ck_type	 type;
	enum ck_scope	 scope;
	int		 flags;
	size_t		 off;
	long long	 min, max;
};

#define MS	1LL
#define SEC	(1000 * MS)
#define MINUTE	(60 * SEC)
#define HOUR	(60 * MINUTE)
#define DAY	(24 * HOUR)

#define C(n, t, f, fl)		{ n, t, SCOPE_CONF, fl, \
				  offsetof(struct conf, f), 0, 0 }
#define CN(n, t, f, lo, hi)	{ n, t, SCOPE_CONF, 0, \
				  offsetof(struct conf, f), lo, hi }
#define P(n, t, f, fl)		{ n, t, SCOPE_PARTICIPANT, fl, \
				  offsetof(struct conf_participant, f), 0, 0 }

/*
 * Every accepted key.  Keep becknd(8), the README and etc/becknd.yaml in
 * step with this (tests/check_docs checks names, bounds and restarts).
 */
static const struct conf_key conf_keys[] = {
	C("listen.network", CK_STR, listen_network, CKF_RESTART),
	C("listen.client", CK_STR, listen_client, CKF_RESTART),
	C("listen.registry", CK_STR, listen_registry, CKF_RESTART),
	C("listen.client_allow_remote", CK_BOOL, client_allow_remote, 0),
	C("listen.client_token", CK_STR, client_token, 0),
	C("listen.admin", CK_STR, listen_admin, CKF_RESTART),
	C("admin.token", CK_STR, admin_token, 0),
	C("store.path", CK_PATH, store_path, CKF_RESTART),
	C("store.sync", CK_STR, store_sync, CKF_RESTART),
	C("store.bodies", CK_STR, store_bodies, 0),
	{ "store.retention", CK_DURATION, SCOPE_CONF, CKF_OFF,
	    offsetof(struct conf, store_retention_ms), 1 * HOUR, 3650 * DAY },
	CN("store.max_size", CK_SIZE, store_max_size, 0, 64LL << 40),
	C("telemetry.url", CK_STR, telemetry_url, 0),
	CN("telemetry.batch_size", CK_SIZE_T, telemetry_batch_size, 1, 10000),
	CN("telemetry.max_batch_bytes", CK_SIZE, telemetry_max_batch_bytes,
	    4LL << 10, 64LL << 20),
	CN("telemetry.interval", CK_DURATION, telemetry_interval_ms,
	    100 * MS, 1 * DAY),
	CN("telemetry.timeout", CK_DURATION, telemetry_timeout_ms,
	    100 * MS, 10 * MINUTE),
	CN("telemetry.retry_max", CK_DURATION, telemetry_retry_max_ms,
	    1 * SEC, 1 * DAY),
	CN("telemetry.spool_max", CK_SIZE_T, telemetry_spool_max, 1,
	    10000000),
	C("telemetry.message_properties", CK_STRMAP, telemetry_props, 0),
	C("registry.url", CK_STR, registry.url, 0),
	C("registry.file", CK_PATH, registry.file, 0),
	CN("registry.cache_ttl", CK_DURATION, registry.cache_ttl_ms,
	    1 * SEC, 1 * DAY),
	CN("registry.negative_ttl", CK_DURATION, registry.negative_ttl_ms,
	    1 * SEC, 1 * DAY),
	CN("registry.stale_ttl", CK_DURATION, registry.stale_ttl_ms,
	    0, 7 * DAY),
	CN("registry.timeout", CK_DURATION, registry.timeout_ms,
	    100 * MS, 10 * MINUTE),
	CN("registry.connect_timeout", CK_DURATION,
	    registry.connect_timeout_ms, 100 * MS, 10 * MINUTE),
	CN("registry.cache_size", CK_SIZE_T, registry.cache_size, 1, 10000000),
	CN("registry.max_inflight", CK_INT, registry.max_inflight, 1, 4096),
	CN("registry.refresh_interval", CK_DURATION,
	    registry.refresh_interval_ms, 1 * SEC, 1 * DAY),
	C("registry.tls_verify", CK_BOOL, registry.tls_verify, 0),
	C("registry.ca_file", CK_PATH, registry.ca_file, 0),
	CN("registry.negative_cache_size", CK_SIZE_T,
	    registry.negative_cache_size, 1, 10000000),
	CN("registry.miss_rate", CK_INT, registry.miss_rate, 1, 100000),
	CN("registry.miss_burst", CK_INT, registry.miss_burst, 1, 1000000),
	CN("registry.miss_queue", CK_INT, registry.miss_queue, 1, 10000),
	C("schemas", CK_PATHLIST, schemas, 0),
	C("validation.formats", CK_STR, schema_formats, 0),
	CN("security.clock_skew", CK_DURATION, clock_skew_ms, 0, 5 * MINUTE),
	{ "security.replay_window", CK_DURATION, SCOPE_CONF, CKF_OFF,
	    offsetof(struct conf, replay_window_ms), 1 * SEC, 1 * DAY },
	CN("security.signature_ttl", CK_DURATION, signature_ttl_ms,
	    1 * SEC, 1 * DAY),
	CN("security.max_signature_ttl", CK_DURATION, max_signature_ttl_ms,
	    1 * SEC, 1 * DAY),
	CN("security.replay_cache_size", CK_SIZE_T, replay_cache_size,
	    1024, 1LL << 28),
	CN("security.replay_sender_quota", CK_SIZE_T, replay_sender_quota,
	    1, 1LL << 28),
	CN("limits.body_max", CK_SIZE, body_max, 1024, 1LL << 30),
	CN("limits.header_max", CK_SIZE, header_max, 1024, 1LL << 20),
	CN("limits.read_timeout", CK_DURATION, read_timeout_ms,
	    100 * MS, 1 * HOUR),
	CN("limits.max_connections", CK_INT, max_connections, 1, 1000000),
	CN("limits.memory_max", CK_SIZE, memory_max, 16LL << 20, 64LL << 30),
	CN("limits.idle_timeout", CK_DURATION, idle_timeout_ms,
	    100 * MS, 1 * HOUR),
	CN("limits.max_connections_per_client", CK_INT,
	    max_connections_per_client, 1, 1000000),
	CN("limits.json_max_nodes", CK_SIZE_T, json_max_nodes, 1000, 10000000),
	CN("delivery.webhook_timeout", CK_DURATION, webhook_timeout_ms,
	    100 * MS, 1 * HOUR),
	CN("delivery.retries", CK_INT, webhook_retries, 0, 100),
	CN("delivery.backoff", CK_DURATION, webhook_backoff_ms,
	    10 * MS, 1 * HOUR),
	CN("delivery.backoff_max", CK_DURATION, webhook_backoff_max_ms,
	    10 * MS, 1 * DAY),
	CN("delivery.queue_size", CK_SIZE_T, queue_size, 1, 10000000),
	CN("delivery.upstream_timeout", CK_DURATION, upstream_timeout_ms,
	    100 * MS, 1 * HOUR),
	CN("delivery.shutdown_timeout", CK_DURATION, shutdown_timeout_ms,
	    0, 1 * HOUR),
	CN("delivery.queue_bytes", CK_SIZE, queue_bytes, 64LL << 10,
	    64LL << 30),
	CN("delivery.max_attempts", CK_INT, webhook_max_attempts, 0, 1000000),
	CN("delivery.max_age", CK_DURATION, webhook_max_age_ms, 1 * MINUTE,
	    30 * DAY),
	CN("delivery.max_inflight", CK_INT, webhook_max_inflight, 1, 1024),
	CN("delivery.dead_letters", CK_SIZE_T, dead_letters, 0, 1000000),
	CN("delivery.dead_letter_bytes", CK_SIZE, dead_letter_bytes, 0,
	    64LL << 30),
	C("log.level", CK_LOGLEVEL, log_level, 0),
	P("participants[].subscriber_id", CK_STR, subscriber_id, 0),
	P("participants[].key_id", CK_STR, key_id, 0),
	P("participants[].role", CK_ROLE, role, 0),
	P("participants[].private_key_file", CK_PATH, private_key_file,
	    CKF_KEY),
	P("participants[].private_key", CK_STR, private_key, CKF_KEY),
	P("participants[].subscriber_url", CK_STR, subscriber_url, 0),
	P("participants[].webhook", CK_STR, webhook, 0),
	P("participants[].domains", CK_STRLIST, domains, 0),
};

#define NKEYS (sizeof(conf_keys) / sizeof(conf_keys[0]))
_Static_assert(NKEYS <= CONF_KEYS_MAX, "raise CONF_KEYS_MAX");

/*
 * Values that must not exceed another key's value: lo <= hi.  The error
 * names the key written later, at its line, since that is the one the
 * reader was just looking at.
 */
static const struct {
	const char	*lo, *hi;
} conf_order[] = {
	{ "delivery.backoff", "delivery.backoff_max" },
	{ "security.signature_ttl", "security.max_signature_ttl" },
	{ "security.replay_sender_quota", "security.replay_cache_size" },
	{ "telemetry.batch_size", "telemetry.spool_max" },
};

/* In enum beckn_role order. */
static const char *role_names[] = { "bap", "bpp", "gateway" };

struct loader {
	const char	*file;
	char		*dir;		/* folder of the file, for CK_PATH */
	yaml_document_t	 doc;
	char		*err;
	size_t		 errlen;
	int		 failed;
};

static void __attribute__((format(printf, 3, 4)))
lerr(struct loader *l, int line, const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	if (l->failed)
		return;		/* keep the first error: it is the real one */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(l->err, l->errlen, "%s:%d: %s", l->file, line, msg);
	else
		snprintf(l->err, l->errlen, "%s: %s", l->file, msg);
	l->failed = 1;
}

static int
node_line(const yaml_node_t *n)
{
	return (int)n->start_mark.line + 1;
}

const char *const *
conf_key_names(void)
{
	static const char	*names[NKEYS + 1];
	size_t			 i;

	for (i = 0; i < NKEYS; i++)
		names[i] = conf_keys[i].name;
	names[NKEYS] = NULL;
	return names;
}

/* The table entry of name in any scope, or NULL. */
static const struct conf_key *
key_named(const char *name)
{
	size_t	 i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(conf_keys[i].name, name) == 0)
			return &conf_keys[i];
	return NULL;
}

/* Where the key was set in c's file, 0 when it was not (conf scope). */
static int
key_line(const struct conf *c, const struct conf_key *k)
{
	return c->key_lines[k - conf_keys];
}

/*
 * In the largest unit that divides it exactly (1d, 90m, 3605s, 250ms), so
 * that a value quoted in an error can be pasted back into the file.
 */
static void
fmt_duration(long long ms, char *buf, size_t len)
{
	static const struct {
		long long	 ms;
		const char	*unit;
	} units[] = {
		{ DAY, "d" }, { HOUR, "h" }, { MINUTE, "m" }, { SEC, "s" },
	};
	size_t	 i;

	if (ms == 0) {
		snprintf(buf, len, "0s");
		return;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (ms % units[i].ms == 0) {
			snprintf(buf, len, "%lld%s", ms / units[i].ms,
			    units[i].unit);
			return;
		}
	snprintf(buf, len, "%lldms", ms);
}

/* Sizes as the README writes them: 64KiB, 2MiB, 1000. */
static void
fmt_size(long long v, char *buf, size_t len)
{
	if (v != 0 && v % (1LL << 40) == 0)
		snprintf(buf, len, "%lldTiB", v >> 40);
	else if (v != 0 && v % (1LL << 30) == 0)
		snprintf(buf, len, "%lldGiB", v >> 30);
	else if (v != 0 && v % (1LL << 20) == 0)
		snprintf(buf, len, "%lldMiB", v >> 20);
	else if (v != 0 && v % (1LL << 10) == 0)
		snprintf(buf, len, "%lldKiB", v >> 10);
	else
		snprintf(buf, len, "%lld", v);
}

/* A numeric value in the key's units; -1 for a key without bounds. */
static int
fmt_value(const struct conf_key *k, long long v, char *buf, size_t len)
{
	switch (k->type) {
	case CK_DURATION:
		fmt_duration(v, buf, len);
		return 0;
	case CK_SIZE:
		fmt_size(v, buf, len);
		return 0;
	case CK_INT:
	case CK_SIZE_T:
		snprintf(buf, len, "%lld", v);
		return 0;
	default:
		return -1;
	}
}

static int
key_range(const struct conf_key *k, char *buf, size_t len)
{
	char	 lo[32], hi[32];

	if (fmt_value(k, k->min, lo, sizeof(lo)) == -1 ||
	    fmt_value(k, k->max, hi, sizeof(hi)) == -1)
		return -1;
	snprintf(buf, len, "%s to %s", lo, hi);
	return 0;
}

int
conf_key_range(const char *name, char *buf, size_t len)
{
	const struct conf_key	*k;

	if ((k = key_named(name)) == NULL)
		return -1;
	return key_range(k, buf, len);
}

int
conf_key_reloadable(const char *name)
{
	const struct conf_key	*k;

	if ((k = key_named(name)) == NULL)
		return -1;
	return (k->flags & CKF_RESTART) ? 0 : 1;
}

/* The value of a numeric key (conf_key_range() != -1) in base. */
static long long
num_value(const struct conf_key *k, const void *base)
{
	const char	*p = (const char *)base + k->off;

	switch (k->type) {
	case CK_DURATION:
		return *(const int64_t *)p;
	case CK_INT:
		return *(const int *)p;
	default:
		return (long long)*(const size_t *)p;
	}
}

static int
str_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Does key k have the same value in a and b (both conf or participant)? */
static int
value_equal(const struct conf_key *k, const void *a, const void *b)
{
	const char	*pa = (const char *)a + k->off;
	const char	*pb = (const char *)b + k->off;
	char *const	*la, *const *lb;
	size_t		 na, nb, i;

	switch (k->type) {
	case CK_STR:
	case CK_PATH:
		return str_equal(*(char *const *)pa, *(char *const *)pb);
	case CK_STRLIST:
	case CK_PATHLIST:
	case CK_STRMAP:
		/* The count lives right after the pointer (see set_list()). */
		la = *(char **const *)pa;
		lb = *(char **const *)pb;
		na = *(const size_t *)(pa + sizeof(char **));
		nb = *(const size_t *)(pb + sizeof(char **));
		if (na != nb)
			return 0;
		for (i = 0; i < na; i++)
			if (!str_equal(la[i], lb[i]))
				return 0;
		return 1;
	case CK_DURATION:
	case CK_INT:
	case CK_SIZE:
	case CK_SIZE_T:
		return num_value(k, a) == num_value(k, b);
	case CK_BOOL:
		return *(const int *)pa == *(const int *)pb;
	case CK_ROLE:
		return *(const enum beckn_role *)pa ==
		    *(const enum beckn_role *)pb;
	case CK_LOGLEVEL:
		return *(const enum log_level *)pa ==
		    *(const enum log_level *)pb;
	}
	return 0;
}

/* The loaded keys, compared by their public halves. */
static int
sigkey_equal(const struct sig_key *a, const struct sig_key *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return memcmp(sig_key_public_raw(a), sig_key_public_raw(b),
	    SIG_PUBKEY_LEN) == 0;
}

const char *
conf_restart_key(const struct conf *old, const struct conf *nw, int *line)
{
	size_t	 i;

	for (i = 0; i < NKEYS; i++) {
		/* Restart keys are all of conf scope (the listeners). */
		if (!(conf_keys[i].flags & CKF_RESTART) ||
		    conf_keys[i].scope != SCOPE_CONF ||
		    value_equal(&conf_keys[i], old, nw))
			continue;
		if (line != NULL)
			*line = nw->key_lines[i];
		return conf_keys[i].name;
	}
	return NULL;
}

int
conf_keys_equal(const struct conf *a, const struct conf *b,
    const char *prefix)
{
	const struct conf_key	*k;
	const struct conf_participant *pa, *pb;
	size_t			 i, j, plen = strlen(prefix);

	for (i = 0; i < NKEYS; i++) {
		k = &conf_keys[i];
		if (strncmp(k->name, prefix, plen) != 0)
			continue;
		if (k->scope == SCOPE_CONF) {
			if (!value_equal(k, a, b))
				return 0;
			continue;
		}
		if (a->nparticipants != b->nparticipants)
			return 0;
		for (j = 0; j < a->nparticipants; j++) {
			pa = &a->participants[j];
			pb = &b->participants[j];
			if (!value_equal(k, pa, pb))
				return 0;
			if ((k->flags & CKF_KEY) &&
			    !sigkey_equal(pa->key, pb->key))
				return 0;
		}
	}
	return 1;
}

/* ${VAR} expansion. NULL (and an error) when a variable is not set. */
static char *
expand_env(struct loader *l, const yaml_node_t *n, const char *in)
{
	const char	*p = in, *end, *val;
	char		*out, name[128];
	size_t		 len = 0, cap = strlen(in) + 1, vlen, nlen;

	out = xmalloc(cap);
	while (*p != '\0') {
		if (p[0] == '$' && p[1] == '{' &&
		    (end = strchr(p + 2, '}')) != NULL) {
			nlen = (size_t)(end - p - 2);
			if (nlen == 0 || nlen >= sizeof(name)) {
				lerr(l, node_line(n), "bad ${...} reference");
				free(out);
				return NULL;
			}
			memcpy(name, p + 2, nlen);
			name[nlen] = '\0';
			if ((val = getenv(name)) == NULL) {
				lerr(l, node_line(n), "environment variable "
				    "%s is not set", name);
				free(out);
				return NULL;
			}
			vlen = strlen(val);
			if (len + vlen + 1 > cap) {
				cap = len + vlen + strlen(end) + 1;
				out = xrealloc(out, cap);
			}
			memcpy(out + len, val, vlen);
			len += vlen;
			p = end + 1;
			continue;
		}
		if (len + 2 > cap) {
			cap *= 2;
			out = xrealloc(out, cap);
		}
		out[len++] = *p++;
	}
	out[len] = '\0';
	return out;
}

static char *
resolve_path(struct loader *l, const char *p)
{
	char	*out;

	if (p[0] == '/' || l->dir == NULL)
		return xstrdup(p);
	xasprintf(&out, "%s/%s", l->dir, p);
	return out;
}

static int
parse_size(const char *s, long long *out)
{
	char		*end;
	long long	 v, mult = 1;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0)
		return -1;
	if (*end == 'k' || *end == 'K')
		mult = 1LL << 10;
	else if (*end == 'm' || *end == 'M')
		mult = 1LL << 20;
	else if (*end == 'g' || *end == 'G')
		mult = 1LL << 30;
	else if (*end == 't' || *end == 'T')
		mult = 1LL << 40;
	if (mult != 1) {
		end++;
		if (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0)
			end += strlen(end);
	} else if (strcmp(end, "B") == 0)
		end++;
	if (*end != '\0' || v > LLONG_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

/* A scalar's text after ${VAR} expansion, or NULL with an error set. */
static char *
scalar(struct loader *l, const yaml_node_t *n, const char *key)
{
	if (n->type != YAML_SCALAR_NODE) {
		lerr(l, node_line(n), "%s: expected a single value", key);
		return NULL;
	}
	return expand_env(l, n, (const char *)n->data.scalar.value);
}

static void
free_list(char **v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int
set_list(struct loader *l, const struct conf_key *k, yaml_node_t *n,
    char ***vp, size_t *np)
{
	yaml_node_item_t	*it;
	yaml_node_t		*item;
	char			**v = NULL, *s;
	size_t			 cnt = 0;

	if (n->type == YAML_SCALAR_NODE) {
		/* A single value where a list is expected is a list of one. */
		if ((s = scalar(l, n, k->name)) == NULL)
			return -1;
		v = xcalloc(1, sizeof(*v));
		v[0] = k->type == CK_PATHLIST ? resolve_path(l, s) : xstrdup(s);
		free(s);
		cnt = 1;
		goto done;
	}
	if (n->type != YAML_SEQUENCE_NODE) {
		lerr(l, node_line(n), "%s: expected a list", k->name);
		return -1;
	}
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++) {
		item = yaml_document_get_node(&l->doc, *it);
		if (cnt >= CONF_LIST_MAX) {
			lerr(l, node_line(item), "%s: more than %d entries",
			    k->name, CONF_LIST_MAX);
			free_list(v, cnt);
			return -1;
		}
		if ((s = scalar(l, item, k->name)) == NULL) {
			free_list(v, cnt);
			return -1;
		}
		v = xreallocarray(v, cnt + 1, sizeof(*v));
		v[cnt++] = k->type == CK_PATHLIST ? resolve_path(l, s) :
		    xstrdup(s);
		free(s);
	}
done:
	free_list(*vp, *np);
	*vp = v;
	*np = cnt;
	return 0;
}

static void
range_error(struct loader *l, int line, const struct conf_key *k,
    const char *value)
{
	char	 range[80];

	if (key_range(k, range, sizeof(range)) == -1)
		range[0] = '\0';
	lerr(l, line, "%s: %s is out of range (%s%s)", k->name, value, range,
	    (k->flags & CKF_OFF) ? ", or off" : "");
}

/*
 * A mapping of words to strings (telemetry.message_properties), kept as
 * "key=value" entries in the order written.  A key is a word: letters,
 * digits, '.', '_' and '-' (it names an attribute).
 */
static int
set_map(struct loader *l, const struct conf_key *k, yaml_node_t *n,
    char ***vp, size_t *np)
{
	yaml_node_pair_t	*pair;
	yaml_node_t		*kn, *vn;
	char			**v = NULL, *ks = NULL, *vs = NULL;
	size_t			 cnt = 0, len, i;

	if (n->type != YAML_MAPPING_NODE) {
		lerr(l, node_line(n), "%s: expected a mapping of names to "
		    "values", k->name);
		return -1;
	}
	for (pair = n->data.mapping.pairs.start;
	    pair < n->data.mapping.pairs.top; pair++) {
		kn = yaml_document_get_node(&l->doc, pair->key);
		vn = yaml_document_get_node(&l->doc, pair->value);
		if (cnt >= CONF_LIST_MAX) {
			lerr(l, node_line(kn), "%s: more than %d entries",
			    k->name, CONF_LIST_MAX);
			goto fail;
		}
		if ((ks = scalar(l, kn, k->name)) == NULL ||
		    (vs = scalar(l, vn, k->name)) == NULL)
			goto fail;
		len = strlen(ks);
		if (len == 0 || len != strspn(ks, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")) {
			lerr(l, node_line(kn), "%s: \"%s\" is not a name "
			    "(letters, digits, '.', '_', '-')", k->name, ks);
			goto fail;
		}
		for (i = 0; i < cnt; i++)
			if (strncmp(v[i], ks, len) == 0 && v[i][len] == '=') {
				lerr(l, node_line(kn), "%s: duplicate name "
				    "\"%s\"", k->name, ks);
				goto fail;
			}
		v = xreallocarray(v, cnt + 1, sizeof(*v));
		xasprintf(&v[cnt++], "%s=%s", ks, vs);
		free(ks);
		free(vs);
		ks = vs = NULL;
	}
	free_list(*vp, *np);
	*vp = v;
	*np = cnt;
	return 0;
fail:
	free(ks);
	free(vs);
	free_list(v, cnt);
	return -1;
}

static int
set_value(struct loader *l, const struct conf_key *k, yaml_node_t *n,
    void *base)
{
	char		*s, **sp, *end;
	long long	 v;
	int64_t		 ms;
	size_t		 i;
	int		 rc = -1;

	if (k->type == CK_STRMAP)
		return set_map(l, k, n, (char ***)((char *)base + k->off),
		    (size_t *)((char *)base + k->off + sizeof(char **)));
	if (k->type == CK_STRLIST || k->type == CK_PATHLIST) {
		/* The count lives right after the pointer in both structs. */
		return set_list(l, k, n, (char ***)((char *)base + k->off),
		    (size_t *)((char *)base + k->off + sizeof(char **)));
	}
	if ((s = scalar(l, n, k->name)) == NULL)
		return -1;
	switch (k->type) {
	case CK_STR:
	case CK_PATH:
		sp = (char **)((char *)base + k->off);
		if (*sp != NULL)
			explicit_wipe(*sp, strlen(*sp));
		free(*sp);
		*sp = k->type == CK_PATH ? resolve_path(l, s) : xstrdup(s);
		rc = 0;
		break;
	case CK_DURATION:
		if ((k->flags & CKF_OFF) && strcmp(s, "off") == 0) {
			/* Only the word turns it off: 0 is out of range. */
			*(int64_t *)((char *)base + k->off) = 0;
			rc = 0;
			break;
		}
		if (duration_parse(s, &ms) == -1) {
			lerr(l, node_line(n), "%s: \"%s\" is not a duration "
			    "(examples: 10s, 250ms, 5m, PT30S)", k->name, s);
			break;
		}
		if (ms < k->min || ms > k->max) {
			range_error(l, node_line(n), k, s);
			break;
		}
		*(int64_t *)((char *)base + k->off) = ms;
		rc = 0;
		break;
	case CK_SIZE:
	case CK_INT:
	case CK_SIZE_T:
		if (k->type == CK_SIZE) {
			if (parse_size(s, &v) == -1) {
				lerr(l, node_line(n), "%s: \"%s\" is not a "
				    "size (examples: 2MiB, 512K, 65536)",
				    k->name, s);
				break;
			}
		} else {
			errno = 0;
			v = strtoll(s, &end, 10);
			if (errno != 0 || *s == '\0' || *end != '\0') {
				lerr(l, node_line(n), "%s: \"%s\" is not an "
				    "integer", k->name, s);
				break;
			}
		}
		if (v < k->min || v > k->max) {
			range_error(l, node_line(n), k, s);
			break;
		}
		if (k->type == CK_INT)
			*(int *)((char *)base + k->off) = (int)v;
		else
			*(size_t *)((char *)base + k->off) = (size_t)v;
		rc = 0;
		break;
	case CK_BOOL:
		if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 ||
		    strcmp(s, "on") == 0)
			*(int *)((char *)base + k->off) = 1;
		else if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0 ||
		    strcmp(s, "off") == 0)
			*(int *)((char *)base + k->off) = 0;
		else {
			lerr(l, node_line(n), "%s: \"%s\" is not true or "
			    "false", k->name, s);
			break;
		}
		rc = 0;
		break;
	case CK_ROLE:
		for (i = 0; i < 3; i++)
			if (strcmp(s, role_names[i]) == 0)
				break;
		if (i == 3) {
			lerr(l, node_line(n), "%s: \"%s\" is not one of bap, "
			    "bpp, gateway", k->name, s);
			break;
		}
		*(enum beckn_role *)((char *)base + k->off) = (enum beckn_role)i;
		rc = 0;
		break;
	case CK_LOGLEVEL:
		if (log_level_parse(s, (enum log_level *)((char *)base +
		    k->off)) == -1) {
			lerr(l, node_line(n), "%s: \"%s\" is not one of error, "
			    "warn, info, debug", k->name, s);
			break;
		}
		rc = 0;
		break;
	default:
		break;
	}
	explicit_wipe(s, strlen(s));
	free(s);
	return rc;
}

static const struct conf_key *
find_key(const char *name, enum ck_scope scope)
{
	size_t	 i;

	for (i = 0; i < NKEYS; i++)
		if (conf_keys[i].scope == scope &&
		    strcmp(conf_keys[i].name, name) == 0)
			return &conf_keys[i];
	return NULL;
}

/* Is prefix a section, i.e. does any key start with "prefix."? */
static int
is_section(const char *prefix, enum ck_scope scope)
{
	size_t	 i, len = strlen(prefix);

	for (i = 0; i < NKEYS; i++)
		if (conf_keys[i].scope == scope &&
		    strncmp(conf_keys[i].name, prefix, len) == 0 &&
		    conf_keys[i].name[len] == '.')
			return 1;
	return 0;
}

static int	parse_participants(struct loader *, struct conf *,
		    yaml_node_t *);

/* Walk a mapping; prefix is "" at the root or "section" below it. */
static int
parse_map(struct loader *l, yaml_node_t *map, const char *prefix,
    enum ck_scope scope, void *base, struct conf *conf)
{
	yaml_node_pair_t	*pair, *prev;
	yaml_node_t		*kn, *vn, *pk;
	const struct conf_key	*k;
	char			 name[128];
	const char		*ks;

	if (map->type != YAML_MAPPING_NODE) {
		lerr(l, node_line(map), "%s: expected a mapping of keys",
		    *prefix != '\0' ? prefix : "configuration");
		return -1;
	}
	for (pair = map->data.mapping.pairs.start;
	    pair < map->data.mapping.pairs.top; pair++) {
		kn = yaml_document_get_node(&l->doc, pair->key);
		vn = yaml_document_get_node(&l->doc, pair->value);
		if (kn == NULL || vn == NULL || kn->type != YAML_SCALAR_NODE) {
			lerr(l, kn != NULL ? node_line(kn) : node_line(map),
			    "keys must be plain words");
			return -1;
		}
		ks = (const char *)kn->data.scalar.value;
		for (prev = map->data.mapping.pairs.start; prev < pair; prev++) {
			pk = yaml_document_get_node(&l->doc, prev->key);
			if (pk->type == YAML_SCALAR_NODE && strcmp(ks,
			    (const char *)pk->data.scalar.value) == 0) {
				lerr(l, node_line(kn), "duplicate key \"%s%s%s\"",
				    prefix, *prefix != '\0' ? "." : "", ks);
				return -1;
			}
		}
		if (scope == SCOPE_PARTICIPANT)
			snprintf(name, sizeof(name), "participants[].%s", ks);
		else if (*prefix != '\0')
			snprintf(name, sizeof(name), "%s.%s", prefix, ks);
		else
			snprintf(name, sizeof(name), "%s", ks);

		if (scope == SCOPE_CONF && *prefix == '\0' &&
		    strcmp(ks, "store") == 0 && vn->type == YAML_SCALAR_NODE) {
			if (strcmp((const char *)vn->data.scalar.value, "off")
			    != 0) {
				lerr(l, node_line(vn), "store: expected a "
				    "mapping of keys, or off");
				return -1;
			}
			conf->store_off = 1;
			conf->store_line = node_line(kn);
			continue;
		}
		if (scope == SCOPE_CONF && *prefix == '\0' &&
		    strcmp(ks, "participants") == 0) {
			if (parse_participants(l, conf, vn) == -1)
				return -1;
			continue;
		}
		if ((k = find_key(name, scope)) != NULL) {
			if (set_value(l, k, vn, base) == -1)
				return -1;
			/*
			 * Checks after parsing (listeners, cross-key order,
			 * key files) and reloads report where a key is set.
			 */
			if (scope == SCOPE_PARTICIPANT)
				((struct conf_participant *)base)->key_lines[
				    k - conf_keys] = node_line(kn);
			else
				conf->key_lines[k - conf_keys] = node_line(kn);
			continue;
		}
		if (scope == SCOPE_CONF && *prefix == '\0' &&
		    is_section(name, scope)) {
			if (parse_map(l, vn, name, scope, base, conf) == -1)
				return -1;
			continue;
		}
		lerr(l, node_line(kn), "unknown key \"%s\"", name);
		return -1;
	}
	return 0;
}

static int
parse_participants(struct loader *l, struct conf *conf, yaml_node_t *seq)
{
	yaml_node_item_t	*it;
	yaml_node_t		*n;
	struct conf_participant	*p;

	if (seq->type != YAML_SEQUENCE_NODE) {
		lerr(l, node_line(seq), "participants: expected a list");
		return -1;
	}
	for (it = seq->data.sequence.items.start;
	    it < seq->data.sequence.items.top; it++) {
		n = yaml_document_get_node(&l->doc, *it);
		if (conf->nparticipants >= CONF_PARTICIPANTS_MAX) {
			lerr(l, node_line(n), "participants: more than %d",
			    CONF_PARTICIPANTS_MAX);
			return -1;
		}
		conf->participants = xreallocarray(conf->participants,
		    conf->nparticipants + 1, sizeof(*conf->participants));
		p = &conf->participants[conf->nparticipants++];
		memset(p, 0, sizeof(*p));
		p->line = node_line(n);
		p->role = BECKN_ROLE_BAP;
		if (parse_map(l, n, "participants[]", SCOPE_PARTICIPANT, p,
		    conf) == -1)
			return -1;
	}
	return 0;
}

static void
conf_defaults(struct conf *c)
{
	registry_conf_defaults(&c->registry);
	c->schema_formats = xstrdup("uuid,date-time,date,email");
	c->clock_skew_ms = 5000;
	c->replay_window_ms = 600000;
	c->signature_ttl_ms = 300000;
	/* max_signature_ttl, replay_sender_quota: computed_defaults() */
	c->replay_cache_size = 2000000;
	c->body_max = 2u << 20;
	c->memory_max = 256u << 20;
	c->header_max = 64u << 10;
	c->read_timeout_ms = 30000;
	c->max_connections = 10000;
	c->idle_timeout_ms = 15000;
	c->max_connections_per_client = 256;
	c->json_max_nodes = 200000;	/* JSONCHECK_MAX_NODES_DEFAULT */
	c->webhook_timeout_ms = 10000;
	c->webhook_retries = 0;		/* no limit (see max_attempts) */
	c->webhook_backoff_ms = 500;
	c->webhook_backoff_max_ms = 30000;
	c->queue_size = 10000;
	c->upstream_timeout_ms = 10000;
	c->shutdown_timeout_ms = 10000;
	c->queue_bytes = 64u << 20;
	c->webhook_max_attempts = 0;	/* until max_age */
	c->webhook_max_age_ms = 24 * HOUR;
	c->webhook_max_inflight = 16;
	c->dead_letters = 1000;
	c->dead_letter_bytes = 64u << 20;
	c->log_level = LOG_LVL_INFO;
	c->store_sync = xstrdup("normal");
	c->store_bodies = xstrdup("all");
	c->store_retention_ms = 30 * DAY;
	c->telemetry_batch_size = 100;
	c->telemetry_max_batch_bytes = 1u << 20;
	c->telemetry_interval_ms = 5 * MINUTE;
	c->telemetry_timeout_ms = 10 * SEC;
	c->telemetry_retry_max_ms = 1 * MINUTE;
	c->telemetry_spool_max = 10000;
}

/* Path of an http(s) URL, without a trailing '/'; NULL if not a URL. */
static char *
url_path(const char *url)
{
	const char	*p;
	size_t		 len;

	if (strncmp(url, "http://", 7) == 0)
		p = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		p = url + 8;
	else
		return NULL;
	if (*p == '\0' || *p == '/')
		return NULL;
	if ((p = strchr(p, '/')) == NULL)
		return xstrdup("");
	if (strpbrk(p, "?#") != NULL)
		return NULL;
	len = strlen(p);
	while (len > 0 && p[len - 1] == '/')
		len--;
	return xstrndup(p, len);
}

/* Where name is set in c's file (conf scope), 0 when unset. */
static int
line_of(const struct conf *c, const char *name)
{
	return key_line(c, key_named(name));
}

/* Where name is set in a participant's entry, else where the entry is. */
static int
pline_of(const struct conf_participant *p, const char *name)
{
	int	 line = p->key_lines[key_named(name) - conf_keys];

	return line > 0 ? line : p->line;
}

static int
check_listener(struct loader *l, const struct conf *c, const char *key,
    const char *v)
{
	char	*host;
	int	 port;

	if (v == NULL)
		return 0;
	if (hostport_split(v, &host, &port) == -1) {
		lerr(l, line_of(c, key), "%s: \"%s\" is not host:port", key,
		    v);
		return -1;
	}
	free(host);
	return 0;
}

/*
 * Defaults that depend on other keys, filled in only when the file does
 * not set them: accept the signatures of peers that sign for an hour (the
 * reference servers do) plus the skew we allow, and let no one sender
 * hold more than a quarter of the replay cache.
 */
static void
computed_defaults(struct conf *c)
{
	long		 pages, psize;
	uint64_t	 quarter;

	if (line_of(c, "security.max_signature_ttl") == 0)
		c->max_signature_ttl_ms = 1 * HOUR + c->clock_skew_ms;
	if (line_of(c, "security.replay_sender_quota") == 0)
		c->replay_sender_quota = c->replay_cache_size / 4;
	/* 256 MiB, or a quarter of the machine's memory when that is less. */
	if (line_of(c, "limits.memory_max") == 0 &&
	    (pages = sysconf(_SC_PHYS_PAGES)) > 0 &&
	    (psize = sysconf(_SC_PAGESIZE)) > 0) {
		quarter = (uint64_t)pages * (uint64_t)psize / 4;
		if (quarter < c->memory_max)
			c->memory_max = quarter < (16u << 20) ? 16u << 20 :
			    (size_t)quarter;
	}
}

/* Is host a loopback address or name? */
static int
is_loopback(const char *host)
{
	return strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
	    strncmp(host, "127.", 4) == 0;
}

/*
 * The client listener signs whatever it receives: it stays on loopback
 * unless the file says otherwise and sets the token that then guards it.
 */
static int
check_client_listener(struct loader *l, const struct conf *c)
{
	char	*host;
	int	 port, local;

	if (c->client_token != NULL && (strlen(c->client_token) < 16 ||
	    strpbrk(c->client_token, " \t\r\n") != NULL)) {
		lerr(l, line_of(c, "listen.client_token"), "listen.client_token "
		    "must be at least 16 characters without white space");
		return -1;
	}
	if (c->listen_client == NULL ||
	    hostport_split(c->listen_client, &host, &port) == -1)
		return 0;
	local = is_loopback(host);
	free(host);
	if (local)
		return 0;
	if (!c->client_allow_remote) {
		lerr(l, line_of(c, "listen.client"), "listen.client: \"%s\" is "
		    "not a loopback address; the client listener signs what "
		    "it receives (set listen.client_allow_remote: true and "
		    "listen.client_token to expose it)", c->listen_client);
		return -1;
	}
	if (c->client_token == NULL) {
		lerr(l, line_of(c, "listen.client_allow_remote"),
		    "listen.client_allow_remote needs listen.client_token");
		return -1;
	}
	return 0;
}

/*
 * The store: a daemon with participants keeps its journal and outbox in
 * store.path unless the file says "store: off" (nothing is then kept
 * across a restart, so it must be said, not forgotten).
 */
static int
check_store(struct loader *l, const struct conf *c)
{
	if (c->store_off && line_of(c, "store.path") != 0) {
		lerr(l, c->store_line, "store: off, but store.path is set");
		return -1;
	}
	if (strcmp(c->store_sync, "normal") != 0 &&
	    strcmp(c->store_sync, "full") != 0) {
		lerr(l, line_of(c, "store.sync"), "store.sync: \"%s\" is not "
		    "normal or full", c->store_sync);
		return -1;
	}
	if (strcmp(c->store_bodies, "all") != 0 &&
	    strcmp(c->store_bodies, "none") != 0) {
		lerr(l, line_of(c, "store.bodies"), "store.bodies: \"%s\" is "
		    "not all or none", c->store_bodies);
		return -1;
	}
	return 0;
}

/*
 * telemetry.url is an http(s) URL; each message_properties value a path
 * of member names from the body's root, "name[]" expanding an array.
 */
static int
check_telemetry(struct loader *l, const struct conf *c)
{
	const char	*path, *seg, *end;
	size_t		 i, len;
	char		*u;

	if (c->telemetry_url != NULL && *c->telemetry_url != '\0') {
		if ((u = url_path(c->telemetry_url)) == NULL) {
			lerr(l, line_of(c, "telemetry.url"), "telemetry.url: "
			    "\"%s\" is not an http:// or https:// URL",
			    c->telemetry_url);
			return -1;
		}
		free(u);
	}
	for (i = 0; i < c->ntelemetry_props; i++) {
		path = strchr(c->telemetry_props[i], '=') + 1;
		for (seg = path;; seg = end + 1) {
			end = strchr(seg, '.');
			len = end != NULL ? (size_t)(end - seg) : strlen(seg);
			if (len >= 2 && seg[len - 2] == '[' &&
			    seg[len - 1] == ']')
				len -= 2;
			if (len == 0 || memchr(seg, '[', len) != NULL ||
			    memchr(seg, ']', len) != NULL) {
				lerr(l, line_of(c,
				    "telemetry.message_properties"),
				    "telemetry.message_properties: \"%s\" is "
				    "not a path like message.order.id or "
				    "message.order.items[].id", path);
				return -1;
			}
			if (end == NULL)
				break;
		}
	}
	return 0;
}

/*
 * The admin API shows every message: off loopback it needs a token.
 */
static int
check_admin(struct loader *l, const struct conf *c)
{
	char	*host;
	int	 port, local;

	if (c->admin_token != NULL && (strlen(c->admin_token) < 16 ||
	    strpbrk(c->admin_token, " \t\r\n") != NULL)) {
		lerr(l, line_of(c, "admin.token"), "admin.token must be at "
		    "least 16 characters without white space");
		return -1;
	}
	if (c->listen_admin == NULL ||
	    hostport_split(c->listen_admin, &host, &port) == -1)
		return 0;
	local = is_loopback(host);
	free(host);
	if (!local && c->admin_token == NULL) {
		lerr(l, line_of(c, "listen.admin"), "listen.admin: \"%s\" is "
		    "not a loopback address; set admin.token to guard it",
		    c->listen_admin);
		return -1;
	}
	return 0;
}

/* conf_order[]: each lo key's value is at most its hi key's. */
static int
check_order(struct loader *l, const struct conf *c)
{
	const struct conf_key	*lo, *hi, *later, *other;
	long long		 vlo, vhi;
	char			 a[32], b[32];
	size_t			 i;

	for (i = 0; i < sizeof(conf_order) / sizeof(conf_order[0]); i++) {
		lo = key_named(conf_order[i].lo);
		hi = key_named(conf_order[i].hi);
		vlo = num_value(lo, c);
		vhi = num_value(hi, c);
		if (vlo <= vhi)
			continue;
		if (key_line(c, lo) > key_line(c, hi)) {
			later = lo;
			other = hi;
		} else {
			later = hi;
			other = lo;
		}
		fmt_value(later, num_value(later, c), a, sizeof(a));
		fmt_value(other, num_value(other, c), b, sizeof(b));
		lerr(l, key_line(c, later), "%s: %s is %s %s (%s%s)",
		    later->name, a, later == lo ? "above" : "below",
		    other->name, b, key_line(c, other) == 0 ?
		    ", its default" : "");
		return -1;
	}
	return 0;
}

static int
load_key(struct loader *l, struct conf_participant *p, size_t idx)
{
	char	 why[160], *text = NULL;
	size_t	 len;

	if ((p->private_key_file == NULL) == (p->private_key == NULL)) {
		lerr(l, p->line, "participants[%zu]: set exactly one of "
		    "private_key_file and private_key", idx);
		return -1;
	}
	if (p->private_key_file != NULL) {
		if ((text = read_file(p->private_key_file, KEY_FILE_MAX,
		    &len)) == NULL) {
			lerr(l, pline_of(p, "participants[].private_key_file"),
			    "participants[%zu].private_key_file: %s: %s", idx,
			    p->private_key_file, errno == EFBIG ?
			    "too large for a key file" : strerror(errno));
			return -1;
		}
		p->key = sig_key_private_parse(text, len, why, sizeof(why));
		explicit_wipe(text, len);
		free(text);
		if (p->key == NULL) {
			lerr(l, pline_of(p, "participants[].private_key_file"),
			    "participants[%zu].private_key_file: %s: %s", idx,
			    p->private_key_file, why);
			return -1;
		}
		return 0;
	}
	p->key = sig_key_private_parse(p->private_key, strlen(p->private_key),
	    why, sizeof(why));
	if (p->key == NULL) {
		lerr(l, pline_of(p, "participants[].private_key"),
		    "participants[%zu].private_key: %s", idx, why);
		return -1;
	}
	return 0;
}

static int
validate(struct loader *l, struct conf *c)
{
	struct conf_participant	*p, *q;
	size_t			 i, j;
	int			 uline, fline;

	if (check_listener(l, c, "listen.network", c->listen_network) == -1 ||
	    check_listener(l, c, "listen.client", c->listen_client) == -1 ||
	    check_listener(l, c, "listen.registry", c->listen_registry) == -1 ||
	    check_listener(l, c, "listen.admin", c->listen_admin) == -1 ||
	    check_client_listener(l, c) == -1)
		return -1;
	uline = line_of(c, "registry.url");
	fline = line_of(c, "registry.file");
	if (c->registry.url != NULL && c->registry.file != NULL) {
		lerr(l, uline > fline ? uline : fline, "registry: set url or "
		    "file, not both");
		return -1;
	}
	if (c->registry.url != NULL && strncmp(c->registry.url, "http://", 7)
	    != 0 && strncmp(c->registry.url, "https://", 8) != 0) {
		lerr(l, uline, "registry.url: \"%s\" is not an http(s) URL",
		    c->registry.url);
		return -1;
	}
	if (check_store(l, c) == -1 || check_admin(l, c) == -1 ||
	    check_telemetry(l, c) == -1)
		return -1;
	if (c->listen_registry != NULL && c->registry.file == NULL) {
		lerr(l, line_of(c, "listen.registry"), "listen.registry needs "
		    "registry.file to serve");
		return -1;
	}
	computed_defaults(c);
	if (check_order(l, c) == -1)
		return -1;
	for (i = 0; i < c->nparticipants; i++) {
		p = &c->participants[i];
		if (p->subscriber_id == NULL || *p->subscriber_id == '\0' ||
		    strpbrk(p->subscriber_id, "|\" ") != NULL) {
			lerr(l, p->line, "participants[%zu]: subscriber_id is "
			    "missing or has '|', '\"' or a space", i);
			return -1;
		}
		if (p->key_id == NULL || *p->key_id == '\0' ||
		    strpbrk(p->key_id, "|\" ") != NULL) {
			lerr(l, p->line, "participants[%zu]: key_id is missing "
			    "or has '|', '\"' or a space", i);
			return -1;
		}
		/* Peers parse a keyId's parts into SIG_ID_MAX bytes. */
		if (strlen(p->subscriber_id) >= SIG_ID_MAX ||
		    strlen(p->key_id) >= SIG_ID_MAX) {
			lerr(l, pline_of(p, strlen(p->subscriber_id) >=
			    SIG_ID_MAX ? "participants[].subscriber_id" :
			    "participants[].key_id"), "participants[%zu]: "
			    "subscriber_id and key_id are at most %d bytes", i,
			    SIG_ID_MAX - 1);
			return -1;
		}
		if (p->subscriber_url == NULL ||
		    (p->path = url_path(p->subscriber_url)) == NULL) {
			lerr(l, p->line, "participants[%zu]: subscriber_url is "
			    "missing or not an http(s) URL", i);
			return -1;
		}
		if (p->role != BECKN_ROLE_GATEWAY && p->webhook == NULL) {
			lerr(l, p->line, "participants[%zu]: webhook is "
			    "required for role %s", i, beckn_role_name(p->role));
			return -1;
		}
		if (p->webhook != NULL && strncmp(p->webhook, "http://", 7)
		    != 0 && strncmp(p->webhook, "https://", 8) != 0) {
			lerr(l, p->line, "participants[%zu].webhook: \"%s\" is "
			    "not an http(s) URL", i, p->webhook);
			return -1;
		}
		if (load_key(l, p, i) == -1)
			return -1;
		for (j = 0; j < i; j++) {
			q = &c->participants[j];
			if (strcmp(p->path, q->path) == 0) {
				lerr(l, p->line, "participants[%zu]: the path "
				    "\"%s\" of subscriber_url is already used "
				    "by participants[%zu]", i, p->path, j);
				return -1;
			}
			if (strcmp(p->subscriber_id, q->subscriber_id) == 0 &&
			    p->role == q->role) {
				lerr(l, p->line, "participants[%zu]: %s is "
				    "already configured as %s", i,
				    p->subscriber_id, beckn_role_name(p->role));
				return -1;
			}
		}
	}
	return 0;
}

struct conf *
conf_load(const char *path, char *err, size_t errlen)
{
	struct loader	 l;
	struct conf	*c;
	yaml_parser_t	 parser;
	yaml_node_t	*root;
	FILE		*f;
	const char	*slash;
	int		 have_doc = 0;

	memset(&l, 0, sizeof(l));
	l.file = path;
	l.err = err;
	l.errlen = errlen;
	if ((slash = strrchr(path, '/')) != NULL)
		l.dir = xstrndup(path, (size_t)(slash - path + (slash == path)));

	c = xcalloc(1, sizeof(*c));
	c->file = xstrdup(path);
	conf_defaults(c);

	if ((f = fopen(path, "rb")) == NULL) {
		lerr(&l, 0, "%s", strerror(errno));
		goto fail;
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &l.doc)) {
		lerr(&l, (int)parser.problem_mark.line + 1, "YAML: %s%s%s",
		    parser.problem != NULL ? parser.problem : "syntax error",
		    parser.context != NULL ? " " : "",
		    parser.context != NULL ? parser.context : "");
		yaml_parser_delete(&parser);
		fclose(f);
		goto fail;
	}
	have_doc = 1;
	yaml_parser_delete(&parser);
	fclose(f);

	if ((root = yaml_document_get_root_node(&l.doc)) == NULL) {
		lerr(&l, 1, "the file is empty");
		goto fail;
	}
	if (parse_map(&l, root, "", SCOPE_CONF, c, c) == -1)
		goto fail;
	if (validate(&l, c) == -1)
		goto fail;
	yaml_document_delete(&l.doc);
	free(l.dir);
	return c;
fail:
	if (have_doc)
		yaml_document_delete(&l.doc);
	free(l.dir);
	conf_free(c);
	return NULL;
}

int
conf_store_missing(const struct conf *c, char *err, size_t errlen)
{
	if (c->nparticipants == 0 || c->store_path != NULL || c->store_off)
		return 0;
	snprintf(err, errlen, "%s:%d: store.path is required with "
	    "participants (the journal and outbox: an ACK means the message "
	    "is on disk), or say \"store: off\"", c->file,
	    c->participants[0].line);
	return -1;
}

void
conf_free(struct conf *c)
{
	struct conf_participant	*p;
	size_t			 i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nparticipants; i++) {
		p = &c->participants[i];
		free(p->subscriber_id);
		free(p->key_id);
		free(p->private_key_file);
		if (p->private_key != NULL) {
			explicit_wipe(p->private_key, strlen(p->private_key));
			free(p->private_key);
		}
		sig_key_free(p->key);
		free(p->subscriber_url);
		free(p->path);
		free(p->webhook);
		free_list(p->domains, p->ndomains);
	}
	free(c->participants);
	free(c->file);
	free(c->listen_network);
	free(c->listen_client);
	free(c->listen_registry);
	free(c->listen_admin);
	if (c->admin_token != NULL)
		explicit_wipe(c->admin_token, strlen(c->admin_token));
	free(c->admin_token);
	free(c->store_path);
	free(c->store_sync);
	free(c->store_bodies);
	free(c->telemetry_url);
	free_list(c->telemetry_props, c->ntelemetry_props);
	if (c->client_token != NULL)
		explicit_wipe(c->client_token, strlen(c->client_token));
	free(c->client_token);
	registry_conf_clear(&c->registry);
	free_list(c->schemas, c->nschemas);
	free(c->schema_formats);
	free(c);
}

/* set_list() finds a list's count right after its pointer. */
_Static_assert(offsetof(struct conf, nschemas) ==
    offsetof(struct conf, schemas) + sizeof(char **), "schemas layout");
_Static_assert(offsetof(struct conf_participant, ndomains) ==
    offsetof(struct conf_participant, domains) + sizeof(char **),
    "domains layout");
