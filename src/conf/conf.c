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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "conf/conf.h"
#include "util/duration.h"
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
};

enum ck_scope { SCOPE_CONF, SCOPE_PARTICIPANT };

struct conf_key {
	const char	*name;
	enum ck_type	 type;
	enum ck_scope	 scope;
	size_t		 off;
	long long	 min, max;	/* for CK_INT/CK_SIZE_T/CK_SIZE */
};

#define C(n, t, f)		{ n, t, SCOPE_CONF, offsetof(struct conf, f), 0, 0 }
#define CN(n, t, f, lo, hi)	{ n, t, SCOPE_CONF, \
				  offsetof(struct conf, f), lo, hi }
#define P(n, t, f)		{ n, t, SCOPE_PARTICIPANT, \
				  offsetof(struct conf_participant, f), 0, 0 }

/* Every accepted key. Keep the man page and README in step with this. */
static const struct conf_key conf_keys[] = {
	C("listen.network", CK_STR, listen_network),
	C("listen.client", CK_STR, listen_client),
	C("listen.registry", CK_STR, listen_registry),
	C("registry.url", CK_STR, registry.url),
	C("registry.file", CK_PATH, registry.file),
	C("registry.cache_ttl", CK_DURATION, registry.cache_ttl_ms),
	C("registry.negative_ttl", CK_DURATION, registry.negative_ttl_ms),
	C("registry.stale_ttl", CK_DURATION, registry.stale_ttl_ms),
	C("registry.timeout", CK_DURATION, registry.timeout_ms),
	C("registry.connect_timeout", CK_DURATION, registry.connect_timeout_ms),
	CN("registry.cache_size", CK_SIZE_T, registry.cache_size, 1, 10000000),
	CN("registry.max_inflight", CK_INT, registry.max_inflight, 1, 4096),
	C("registry.refresh_interval", CK_DURATION, registry.refresh_interval_ms),
	C("registry.tls_verify", CK_BOOL, registry.tls_verify),
	C("registry.ca_file", CK_PATH, registry.ca_file),
	C("schemas", CK_PATHLIST, schemas),
	C("validation.formats", CK_STR, schema_formats),
	C("security.clock_skew", CK_DURATION, clock_skew_ms),
	C("security.replay_window", CK_DURATION, replay_window_ms),
	C("security.signature_ttl", CK_DURATION, signature_ttl_ms),
	CN("limits.body_max", CK_SIZE, body_max, 1024, 1LL << 30),
	CN("limits.header_max", CK_SIZE, header_max, 1024, 1LL << 20),
	C("limits.read_timeout", CK_DURATION, read_timeout_ms),
	CN("limits.max_connections", CK_INT, max_connections, 1, 1000000),
	C("delivery.webhook_timeout", CK_DURATION, webhook_timeout_ms),
	CN("delivery.retries", CK_INT, webhook_retries, 0, 100),
	C("delivery.backoff", CK_DURATION, webhook_backoff_ms),
	C("delivery.backoff_max", CK_DURATION, webhook_backoff_max_ms),
	CN("delivery.queue_size", CK_SIZE_T, queue_size, 1, 10000000),
	C("delivery.upstream_timeout", CK_DURATION, upstream_timeout_ms),
	C("delivery.shutdown_timeout", CK_DURATION, shutdown_timeout_ms),
	C("log.level", CK_LOGLEVEL, log_level),
	P("participants[].subscriber_id", CK_STR, subscriber_id),
	P("participants[].key_id", CK_STR, key_id),
	P("participants[].role", CK_ROLE, role),
	P("participants[].private_key_file", CK_PATH, private_key_file),
	P("participants[].private_key", CK_STR, private_key),
	P("participants[].subscriber_url", CK_STR, subscriber_url),
	P("participants[].webhook", CK_STR, webhook),
	P("participants[].domains", CK_STRLIST, domains),
};

#define NKEYS (sizeof(conf_keys) / sizeof(conf_keys[0]))

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

static int
set_value(struct loader *l, const struct conf_key *k, yaml_node_t *n,
    void *base)
{
	char		*s, **sp, *end;
	long long	 v;
	int64_t		 ms;
	size_t		 i;
	int		 rc = -1;

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
		if (duration_parse(s, &ms) == -1) {
			lerr(l, node_line(n), "%s: \"%s\" is not a duration "
			    "(examples: 10s, 250ms, 5m, PT30S)", k->name, s);
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
			lerr(l, node_line(n), "%s: %lld is out of range "
			    "(%lld to %lld)", k->name, v, k->min, k->max);
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
			lerr(l, kn != NULL ? node_line(kn) : 0,
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
		    strcmp(ks, "participants") == 0) {
			if (parse_participants(l, conf, vn) == -1)
				return -1;
			continue;
		}
		if ((k = find_key(name, scope)) != NULL) {
			if (set_value(l, k, vn, base) == -1)
				return -1;
			/* Key errors are found later: remember where. */
			if (scope == SCOPE_PARTICIPANT &&
			    strncmp(ks, "private_key", 11) == 0)
				((struct conf_participant *)base)->key_line =
				    node_line(kn);
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
	c->body_max = 2u << 20;
	c->header_max = 64u << 10;
	c->read_timeout_ms = 30000;
	c->max_connections = 10000;
	c->webhook_timeout_ms = 10000;
	c->webhook_retries = 0;		/* until delivered */
	c->webhook_backoff_ms = 500;
	c->webhook_backoff_max_ms = 30000;
	c->queue_size = 10000;
	c->upstream_timeout_ms = 10000;
	c->shutdown_timeout_ms = 10000;
	c->log_level = LOG_LVL_INFO;
}

int
conf_split_hostport(const char *s, char **host, int *port)
{
	const char	*colon;
	char		*end;
	long		 v;

	if (s[0] == '[') {
		if ((colon = strstr(s, "]:")) == NULL)
			return -1;
		*host = xstrndup(s + 1, (size_t)(colon - s - 1));
		colon++;
	} else {
		if ((colon = strrchr(s, ':')) == NULL ||
		    memchr(s, ':', (size_t)(colon - s)) != NULL)
			return -1;
		*host = xstrndup(s, (size_t)(colon - s));
	}
	errno = 0;
	v = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || v < 0 ||
	    v > 65535 || **host == '\0') {
		free(*host);
		*host = NULL;
		return -1;
	}
	*port = (int)v;
	return 0;
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

static int
check_listener(struct loader *l, const char *key, const char *v)
{
	char	*host;
	int	 port;

	if (v == NULL)
		return 0;
	if (conf_split_hostport(v, &host, &port) == -1) {
		lerr(l, 0, "%s: \"%s\" is not host:port", key, v);
		return -1;
	}
	free(host);
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
			lerr(l, p->key_line, "participants[%zu]."
			    "private_key_file: %s: %s", idx,
			    p->private_key_file, errno == EFBIG ?
			    "too large for a key file" : strerror(errno));
			return -1;
		}
		p->key = sig_key_private_parse(text, len, why, sizeof(why));
		explicit_wipe(text, len);
		free(text);
		if (p->key == NULL) {
			lerr(l, p->key_line, "participants[%zu]."
			    "private_key_file: %s: %s", idx,
			    p->private_key_file, why);
			return -1;
		}
		return 0;
	}
	p->key = sig_key_private_parse(p->private_key, strlen(p->private_key),
	    why, sizeof(why));
	if (p->key == NULL) {
		lerr(l, p->key_line, "participants[%zu].private_key: %s", idx,
		    why);
		return -1;
	}
	return 0;
}

static int
validate(struct loader *l, struct conf *c)
{
	struct conf_participant	*p, *q;
	size_t			 i, j;

	if (check_listener(l, "listen.network", c->listen_network) == -1 ||
	    check_listener(l, "listen.client", c->listen_client) == -1 ||
	    check_listener(l, "listen.registry", c->listen_registry) == -1)
		return -1;
	if (c->registry.url != NULL && c->registry.file != NULL) {
		lerr(l, 0, "registry: set url or file, not both");
		return -1;
	}
	if (c->registry.url != NULL && strncmp(c->registry.url, "http://", 7)
	    != 0 && strncmp(c->registry.url, "https://", 8) != 0) {
		lerr(l, 0, "registry.url: \"%s\" is not an http(s) URL",
		    c->registry.url);
		return -1;
	}
	if (c->listen_registry != NULL && c->registry.file == NULL) {
		lerr(l, 0, "listen.registry needs registry.file to serve");
		return -1;
	}
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
