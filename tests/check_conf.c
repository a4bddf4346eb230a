/*
 * check_conf.c - the YAML configuration: defaults, types, ${VAR},
 * file:line errors, bounds, participants and keys, and the helpers a
 * reload uses (restart keys, per-section comparison).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "sig/sig_key.h"
#include "util/duration.h"
#include "util/jsoncheck.h"
#include "testutil.h"
#include "util/xmalloc.h"

/* A fixed key of our own (seed 0x00..0x1f), 64-byte layout. */
#define KEY64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8DoQe/884Qvh1w3Rjn" \
	"S8CZZ+TWMJulDV8d3IZkElUxuA=="

static char	 dir[] = "/tmp/becknd-conf-XXXXXX";

static const char *
write_conf(const char *name, const char *text)
{
	static char	 path[256];
	FILE		*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	return path;
}

static const char *base_participant =
    "participants:\n"
    "  - subscriber_id: bap.example.org\n"
    "    key_id: k1\n"
    "    role: bap\n"
    "    private_key: " KEY64 "\n"
    "    subscriber_url: https://bap.example.org/beckn/\n"
    "    webhook: http://127.0.0.1:3000/beckn/{action}\n"
    "    domains: [onest:courses]\n";

/* Load text and expect failure with err starting "path:line: " + substr. */
static void
expect_error(const char *text, int line, const char *substr)
{
	const char	*path = write_conf("bad.yaml", text);
	char		 err[512], want[300];
	struct conf	*c;

	c = conf_load(path, err, sizeof(err));
	ck_assert_msg(c == NULL, "accepted:\n%s", text);
	if (line > 0)
		snprintf(want, sizeof(want), "%s:%d: ", path, line);
	else
		snprintf(want, sizeof(want), "%s: ", path);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0,
	    "error \"%s\" does not start with \"%s\"", err, want);
	ck_assert_msg(strstr(err, substr) != NULL,
	    "error \"%s\" does not mention \"%s\"", err, substr);
}

/* The client listener signs what it gets: loopback, or a token. */
START_TEST(client_listener_exposure)
{
	const char	*path;
	struct conf	*c;
	char		 err[512];

	expect_error("listen:\n  client: 0.0.0.0:5001\n", 2,
	    "not a loopback address");
	expect_error("listen:\n  client: \"[::]:5001\"\n", 2,
	    "listen.client_allow_remote");
	expect_error("listen:\n  client: 10.0.0.5:5001\n"
	    "  client_allow_remote: true\n", 3, "needs listen.client_token");
	expect_error("listen:\n  client: 127.0.0.1:5001\n"
	    "  client_token: short\n", 3, "at least 16 characters");
	expect_error("listen:\n  client_token: \"sixteen chars ok?\"\n", 2,
	    "without white space");
	/* Loopback in every spelling needs nothing. */
	path = write_conf("lo.yaml", "listen:\n  client: localhost:1\n");
	ck_assert_ptr_nonnull(c = conf_load(path, err, sizeof(err)));
	ck_assert_int_eq(c->client_allow_remote, 0);
	ck_assert_ptr_null(c->client_token);
	conf_free(c);
	path = write_conf("lo6.yaml", "listen:\n  client: \"[::1]:1\"\n");
	ck_assert_ptr_nonnull(c = conf_load(path, err, sizeof(err)));
	conf_free(c);
	path = write_conf("remote.yaml", "listen:\n  client: 0.0.0.0:5001\n"
	    "  client_allow_remote: true\n"
	    "  client_token: 0123456789abcdef\n");
	ck_assert_msg((c = conf_load(path, err, sizeof(err))) != NULL, "%s",
	    err);
	ck_assert_int_eq(c->client_allow_remote, 1);
	ck_assert_str_eq(c->client_token, "0123456789abcdef");
	conf_free(c);
}
END_TEST

/* Ids a peer could not parse back out of our keyId are refused. */
START_TEST(participant_id_length)
{
	char	*text, *id;

	id = xmalloc(257);
	memset(id, 'a', 256);
	id[256] = '\0';
	xasprintf(&text, "participants:\n  - subscriber_id: %s\n    key_id: k1"
	    "\n    private_key: " KEY64 "\n    subscriber_url: https://x/b\n"
	    "    webhook: http://127.0.0.1:3000/w\n", id);
	expect_error(text, 2, "at most 255 bytes");
	free(text);
	id[255] = '\0';	/* 255 bytes: fine */
	xasprintf(&text, "participants:\n  - subscriber_id: %s\n    key_id: k1"
	    "\n    private_key: " KEY64 "\n    subscriber_url: https://x/b\n"
	    "    webhook: http://127.0.0.1:3000/w\n", id);
	{
		const char	*path = write_conf("ok255.yaml", text);
		struct conf	*c;
		char		 err[512];

		ck_assert_msg((c = conf_load(path, err, sizeof(err))) != NULL,
		    "%s", err);
		conf_free(c);
	}
	free(text);
	free(id);
}
END_TEST

/* limits.memory_max: 256 MiB by default (less on a small machine). */
START_TEST(memory_max_default)
{
	const char	*path;
	struct conf	*c;
	char		 err[512];

	path = write_conf("m.yaml", "log: { level: info }\n");
	ck_assert_ptr_nonnull(c = conf_load(path, err, sizeof(err)));
	ck_assert(c->memory_max >= (16u << 20));
	ck_assert(c->memory_max <= (256u << 20));
	conf_free(c);
	path = write_conf("m2.yaml", "limits: { memory_max: 1GiB }\n");
	ck_assert_ptr_nonnull(c = conf_load(path, err, sizeof(err)));
	ck_assert_uint_eq(c->memory_max, 1u << 30);
	conf_free(c);
	expect_error("limits:\n  memory_max: 1MiB\n", 2, "out of range");
}
END_TEST

START_TEST(defaults_and_values)
{
	char		 err[512], text[2048];
	struct conf	*c;
	const char	*path;

	snprintf(text, sizeof(text),
	    "listen:\n  network: 0.0.0.0:5000\n  client: 127.0.0.1:5001\n"
	    "registry: { url: https://registry.example/subscribers, "
	    "cache_ttl: PT10S, negative_ttl: 2s, cache_size: 50 }\n"
	    "schemas: [schemas/core.yaml, /abs/onest.yaml]\n"
	    "security: { clock_skew: 5s, replay_window: 10m }\n"
	    "limits: { body_max: 1MiB }\n"
	    "%s", base_participant);
	path = write_conf("ok.yaml", text);
	c = conf_load(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_str_eq(c->listen_network, "0.0.0.0:5000");
	ck_assert_str_eq(c->listen_client, "127.0.0.1:5001");
	ck_assert_ptr_null(c->listen_registry);
	ck_assert_str_eq(c->registry.url, "https://registry.example/subscribers");
	ck_assert_int_eq(c->registry.cache_ttl_ms, 10000);
	ck_assert_int_eq(c->registry.negative_ttl_ms, 2000);
	ck_assert_int_eq(c->registry.stale_ttl_ms, 3600000);
	ck_assert_uint_eq(c->registry.cache_size, 50);
	ck_assert_uint_eq(c->nschemas, 2);
	/* Relative paths are relative to the config file's folder. */
	ck_assert(strncmp(c->schemas[0], dir, strlen(dir)) == 0);
	ck_assert(strstr(c->schemas[0], "/schemas/core.yaml") != NULL);
	ck_assert_str_eq(c->schemas[1], "/abs/onest.yaml");
	ck_assert_int_eq(c->clock_skew_ms, 5000);
	ck_assert_int_eq(c->replay_window_ms, 600000);
	ck_assert_uint_eq(c->body_max, 1u << 20);
	ck_assert_uint_eq(c->header_max, 64u << 10);
	ck_assert_str_eq(c->schema_formats, "uuid,date-time,date,email");
	ck_assert_uint_eq(c->nparticipants, 1);
	ck_assert_str_eq(c->participants[0].subscriber_id, "bap.example.org");
	ck_assert_int_eq(c->participants[0].role, BECKN_ROLE_BAP);
	ck_assert_str_eq(c->participants[0].path, "/beckn");
	ck_assert_uint_eq(c->participants[0].ndomains, 1);
	ck_assert_str_eq(c->participants[0].domains[0], "onest:courses");
	ck_assert_ptr_nonnull(c->participants[0].key);
	ck_assert(sig_key_is_private(c->participants[0].key));
	conf_free(c);
}
END_TEST

START_TEST(env_expansion)
{
	char		 err[512];
	struct conf	*c;
	const char	*path;

	setenv("BECKND_TEST_KEY", KEY64, 1);
	setenv("BECKND_TEST_PORT", "5999", 1);
	path = write_conf("env.yaml",
	    "listen: { network: \"127.0.0.1:${BECKND_TEST_PORT}\" }\n"
	    "registry: { file: reg.json }\n"
	    "participants:\n"
	    "  - subscriber_id: bpp.example.org\n"
	    "    key_id: k1\n"
	    "    role: bpp\n"
	    "    private_key: ${BECKND_TEST_KEY}\n"
	    "    subscriber_url: http://bpp.example.org\n"
	    "    webhook: http://127.0.0.1:3001/\n");
	c = conf_load(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_str_eq(c->listen_network, "127.0.0.1:5999");
	ck_assert_str_eq(c->participants[0].path, "");
	ck_assert(strstr(c->registry.file, "/reg.json") != NULL);
	conf_free(c);

	expect_error("listen: { network: \"${BECKND_TEST_UNSET_VAR}\" }\n", 1,
	    "BECKND_TEST_UNSET_VAR is not set");
}
END_TEST

START_TEST(errors_name_file_and_line)
{
	expect_error("listen:\n  network: 0.0.0.0:5000\n  bogus: 1\n", 3,
	    "unknown key \"listen.bogus\"");
	expect_error("registry:\n  cache_ttl: forever\n", 2,
	    "registry.cache_ttl: \"forever\" is not a duration");
	expect_error("limits:\n  body_max: lots\n", 2, "not a size");
	expect_error("limits:\n  body_max: 10\n", 2, "out of range");
	expect_error("registry: { tls_verify: maybe }\n", 1, "true or false");
	expect_error("log: { level: loud }\n", 1, "log.level");
	expect_error("listen:\n  network: a\n  network: b\n", 3,
	    "duplicate key \"listen.network\"");
	expect_error("listen: [1, 2]\n", 1, "expected a mapping");
	expect_error("listen:\n  network: [1\n", 3, "YAML");
	expect_error("nonsense: 1\n", 1, "unknown key \"nonsense\"");
	expect_error("listen: { network: \"nohostport\" }\n", 1,
	    "listen.network: \"nohostport\" is not host:port");
	expect_error("registry: { url: ftp://x }\n", 1, "not an http(s) URL");
	expect_error("registry: { url: http://x, file: y }\n", 1,
	    "url or file, not both");
	expect_error("participants:\n  - subscriber_id: a\n    role: admin\n",
	    3, "\"admin\" is not one of bap, bpp, gateway");
	expect_error("participants:\n  - subscriber_id: a\n    colour: red\n",
	    3, "unknown key \"participants[].colour\"");
}
END_TEST

/* Checks made after parsing still name the line of the key concerned. */
START_TEST(late_errors_have_lines)
{
	expect_error("log: { level: info }\nlisten:\n  client: 127.0.0.1:1\n"
	    "  network: \"::1:5000\"\n", 4,
	    "listen.network: \"::1:5000\" is not host:port");
	expect_error("registry:\n  file: r.json\n  cache_ttl: 5m\n"
	    "  url: http://r\n", 4, "url or file, not both");
	expect_error("registry:\n  url: http://r\n  file: r.json\n", 3,
	    "url or file, not both");
	expect_error("registry:\n  cache_ttl: 5m\n  url: ftp://r\n", 3,
	    "registry.url: \"ftp://r\" is not an http(s) URL");
	expect_error("log: { level: info }\nlisten:\n  registry: 127.0.0.1:1\n",
	    3, "listen.registry needs registry.file");
}
END_TEST

START_TEST(bounds_named_in_issue)
{
	expect_error("delivery:\n  backoff: 0s\n", 2,
	    "delivery.backoff: 0s is out of range (10ms to 1h)");
	expect_error("delivery:\n  backoff: 9ms\n", 2, "out of range");
	expect_error("registry:\n  refresh_interval: 0\n", 2,
	    "registry.refresh_interval: 0 is out of range (1s to 1d)");
	expect_error("security:\n  replay_window: 0\n", 2,
	    "security.replay_window: 0 is out of range (1s to 1d, or off)");
	expect_error("security:\n  replay_window: 0s\n", 2, "out of range");
	expect_error("security:\n  replay_window: PT0S\n", 2, "out of range");
	expect_error("security:\n  replay_window: 2d\n", 2, "out of range");
	/* Only the word turns replay protection off. */
	expect_error("security:\n  replay_window: false\n", 2,
	    "not a duration");
	expect_error("registry: { negative_ttl: 0s }\n", 1, "(1s to 1d)");
	expect_error("registry: { cache_ttl: 500ms }\n", 1, "(1s to 1d)");
	expect_error("registry: { stale_ttl: 8d }\n", 1, "(0s to 7d)");
	expect_error("registry: { timeout: 99ms }\n", 1, "(100ms to 10m)");
	expect_error("limits: { read_timeout: 50ms }\n", 1, "(100ms to 1h)");
	expect_error("security: { clock_skew: 6m }\n", 1, "(0s to 5m)");
	expect_error("delivery: { shutdown_timeout: 2h }\n", 1, "(0s to 1h)");
	expect_error("security: { replay_cache_size: 1000 }\n", 1,
	    "security.replay_cache_size: 1000 is out of range "
	    "(1024 to 268435456)");
	expect_error("security: { replay_sender_quota: 0 }\n", 1,
	    "out of range");
	expect_error("limits: { body_max: 2GiB }\n", 1,
	    "limits.body_max: 2GiB is out of range (1KiB to 1GiB)");
	expect_error("limits: { json_max_nodes: 999 }\n", 1,
	    "limits.json_max_nodes: 999 is out of range (1000 to 10000000)");
}
END_TEST

/* One end of a range as conf_key_range() writes it, in ms or bytes. */
static long long
range_end(const char *w, size_t len, int is_dur)
{
	char		 buf[32], *end;
	long long	 v;
	int64_t		 ms;

	snprintf(buf, sizeof(buf), "%.*s", (int)len, w);
	if (is_dur) {
		ck_assert_msg(duration_parse(buf, &ms) == 0, "%s", buf);
		return ms;
	}
	v = strtoll(buf, &end, 10);
	if (strcmp(end, "KiB") == 0)
		v <<= 10;
	else if (strcmp(end, "MiB") == 0)
		v <<= 20;
	else if (strcmp(end, "GiB") == 0)
		v <<= 30;
	else if (strcmp(end, "TiB") == 0)
		v <<= 40;
	else
		ck_assert_str_eq(end, "");
	return v;
}

/*
 * Every bounded key of the table refuses one step below its minimum and
 * one step above its maximum, at the key's line, quoting its range.
 */
START_TEST(every_bounded_key_refuses_out_of_range)
{
	const char *const	*k;
	char			 range[80], text[256], want[100];
	const char		*dot, *to;
	long long		 end[2];
	size_t			 nbounded = 0;
	int			 is_dur, i;

	for (k = conf_key_names(); *k != NULL; k++) {
		if (conf_key_range(*k, range, sizeof(range)) == -1)
			continue;
		nbounded++;
		ck_assert_ptr_nonnull(dot = strchr(*k, '.'));
		ck_assert_ptr_nonnull(to = strstr(range, " to "));
		is_dur = strpbrk(range, "smhd") != NULL;
		end[0] = range_end(range, (size_t)(to - range), is_dur);
		end[1] = range_end(to + 4, strlen(to + 4), is_dur);
		ck_assert_int_lt(end[0], end[1]);
		snprintf(want, sizeof(want), "(%s", range);
		for (i = 0; i < 2; i++) {
			if (i == 0 && end[0] == 0)
				continue;	/* nothing below 0 parses */
			snprintf(text, sizeof(text), "%.*s:\n  %s: %lld%s\n",
			    (int)(dot - *k), *k, dot + 1,
			    i == 0 ? end[0] - 1 : end[1] + 1,
			    is_dur ? "ms" : "");
			expect_error(text, 2, want);
		}
	}
	ck_assert_uint_ge(nbounded, 24);
}
END_TEST

START_TEST(order_between_keys)
{
	expect_error("delivery:\n  backoff: 1m\n  backoff_max: 30s\n", 3,
	    "delivery.backoff_max: 30s is below delivery.backoff (1m)");
	expect_error("delivery:\n  backoff_max: 1m\n  backoff: 2m\n", 3,
	    "delivery.backoff: 2m is above delivery.backoff_max (1m)");
	expect_error("delivery:\n  backoff_max: 100ms\n", 2,
	    "below delivery.backoff (500ms, its default)");
	expect_error("security:\n  max_signature_ttl: 1m\n", 2,
	    "security.max_signature_ttl: 1m is below security.signature_ttl "
	    "(5m, its default)");
	/* The computed default: 1 h + clock_skew. */
	expect_error("security:\n  signature_ttl: 2h\n", 2,
	    "security.signature_ttl: 2h is above security.max_signature_ttl "
	    "(3605s, its default)");
	expect_error("security:\n  replay_cache_size: 2048\n"
	    "  replay_sender_quota: 4096\n", 3,
	    "security.replay_sender_quota: 4096 is above "
	    "security.replay_cache_size (2048)");
	expect_error("security:\n  replay_sender_quota: 4096\n"
	    "  replay_cache_size: 2048\n", 3,
	    "security.replay_cache_size: 2048 is below "
	    "security.replay_sender_quota (4096)");
	expect_error("security:\n  replay_sender_quota: 3000000\n", 2,
	    "above security.replay_cache_size (2000000, its default)");
}
END_TEST

static struct conf *
load_ok(const char *name, const char *text)
{
	char		 err[512];
	struct conf	*c;

	c = conf_load(write_conf(name, text), err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	return c;
}

START_TEST(computed_defaults_and_off)
{
	struct conf	*c;
	char		 text[2048];

	c = load_ok("d.yaml", base_participant);
	ck_assert_int_eq(c->max_signature_ttl_ms, 3600000 + 5000);
	ck_assert_uint_eq(c->replay_cache_size, 2000000);
	ck_assert_uint_eq(c->replay_sender_quota, 500000);
	ck_assert_uint_eq(c->json_max_nodes, JSONCHECK_MAX_NODES_DEFAULT);
	ck_assert_int_eq(c->replay_window_ms, 600000);
	conf_free(c);

	/* Computed from the values the file gives. */
	c = load_ok("d.yaml", "security:\n  clock_skew: 1m\n"
	    "  replay_cache_size: 4096\n");
	ck_assert_int_eq(c->max_signature_ttl_ms, 3600000 + 60000);
	ck_assert_uint_eq(c->replay_sender_quota, 1024);
	conf_free(c);

	/* Set explicitly, they are kept as written. */
	c = load_ok("d.yaml", "security:\n  max_signature_ttl: 10m\n"
	    "  replay_sender_quota: 7\n  clock_skew: 0s\n");
	ck_assert_int_eq(c->max_signature_ttl_ms, 600000);
	ck_assert_uint_eq(c->replay_sender_quota, 7);
	ck_assert_int_eq(c->clock_skew_ms, 0);
	conf_free(c);

	snprintf(text, sizeof(text), "security:\n  replay_window: off\n%s",
	    base_participant);
	c = load_ok("d.yaml", text);
	ck_assert_int_eq(c->replay_window_ms, 0);
	conf_free(c);
	c = load_ok("d.yaml", "security: { replay_window: 1d }\n"
	    "delivery: { backoff: 10ms, shutdown_timeout: 0s }\n"
	    "registry: { stale_ttl: 0 }\n");
	ck_assert_int_eq(c->replay_window_ms, 86400000);
	ck_assert_int_eq(c->webhook_backoff_ms, 10);
	ck_assert_int_eq(c->shutdown_timeout_ms, 0);
	ck_assert_int_eq(c->registry.stale_ttl_ms, 0);
	conf_free(c);
}
END_TEST

START_TEST(key_table_columns)
{
	char	 r[80];

	ck_assert_int_eq(conf_key_reloadable("listen.network"), 0);
	ck_assert_int_eq(conf_key_reloadable("listen.client"), 0);
	ck_assert_int_eq(conf_key_reloadable("listen.registry"), 0);
	ck_assert_int_eq(conf_key_reloadable("registry.url"), 1);
	ck_assert_int_eq(conf_key_reloadable("registry.file"), 1);
	ck_assert_int_eq(conf_key_reloadable("limits.body_max"), 1);
	ck_assert_int_eq(conf_key_reloadable("participants[].webhook"), 1);
	ck_assert_int_eq(conf_key_reloadable("listen"), -1);
	ck_assert_int_eq(conf_key_reloadable("nonsense"), -1);

	ck_assert_int_eq(conf_key_range("delivery.backoff", r, sizeof(r)), 0);
	ck_assert_str_eq(r, "10ms to 1h");
	ck_assert_int_eq(conf_key_range("limits.body_max", r, sizeof(r)), 0);
	ck_assert_str_eq(r, "1KiB to 1GiB");
	ck_assert_int_eq(conf_key_range("delivery.retries", r, sizeof(r)), 0);
	ck_assert_str_eq(r, "0 to 100");
	ck_assert_int_eq(conf_key_range("registry.url", r, sizeof(r)), -1);
	ck_assert_int_eq(conf_key_range("nonsense", r, sizeof(r)), -1);
}
END_TEST

static const char *reload_base =
    "listen:\n"				/* 1 */
    "  network: 127.0.0.1:5000\n"		/* 2 */
    "  client: 127.0.0.1:5001\n"		/* 3 */
    "registry: { url: http://r.example, cache_ttl: 5m }\n"	/* 4 */
    "limits: { body_max: 2MiB }\n";		/* 5 */

START_TEST(restart_key_on_reload)
{
	struct conf	*old, *nw;
	char		 text[2048];
	const char	*k;
	int		 line;

	snprintf(text, sizeof(text), "%s%s", reload_base, base_participant);
	old = load_ok("old.yaml", text);

	/* Limits, registry and participant changes reload. */
	snprintf(text, sizeof(text), "%s%s", reload_base, base_participant);
	*strstr(text, "2MiB") = '1';
	memcpy(strstr(text, "5m }"), "9m", 2);
	memcpy(strstr(text, ":3000/"), ":3999/", 6);
	nw = load_ok("new.yaml", text);
	line = -1;
	ck_assert_ptr_null(conf_restart_key(old, nw, &line));
	ck_assert_int_eq(line, -1);
	ck_assert_ptr_null(conf_restart_key(old, old, NULL));
	conf_free(nw);

	/* A listener moved: named, with its line in the new file. */
	snprintf(text, sizeof(text), "log: { level: debug }\n%s%s",
	    reload_base, base_participant);
	memcpy(strstr(text, ":5001"), ":5009", 5);
	nw = load_ok("new.yaml", text);
	k = conf_restart_key(old, nw, &line);
	ck_assert_ptr_nonnull(k);
	ck_assert_str_eq(k, "listen.client");
	ck_assert_int_eq(line, 4);
	conf_free(nw);

	/* A listener removed: line 0, it is nowhere in the new file. */
	nw = load_ok("new.yaml", "listen:\n  network: 127.0.0.1:5000\n");
	k = conf_restart_key(old, nw, &line);
	ck_assert_ptr_nonnull(k);
	ck_assert_str_eq(k, "listen.client");
	ck_assert_int_eq(line, 0);
	conf_free(nw);

	/* A listener added. */
	snprintf(text, sizeof(text), "listen:\n  registry: 127.0.0.1:5002\n"
	    "  network: 127.0.0.1:5000\n  client: 127.0.0.1:5001\n"
	    "registry: { file: r.json }\n");
	nw = load_ok("new.yaml", text);
	k = conf_restart_key(old, nw, &line);
	ck_assert_ptr_nonnull(k);
	ck_assert_str_eq(k, "listen.registry");
	ck_assert_int_eq(line, 2);
	conf_free(nw);
	conf_free(old);

	/* The store: its file and sync need a restart, the rest reloads. */
	snprintf(text, sizeof(text), "store:\n  path: a.db\n  bodies: all\n"
	    "%s%s", reload_base, base_participant);
	old = load_ok("old.yaml", text);
	snprintf(text, sizeof(text), "store:\n  path: a.db\n  bodies: none\n"
	    "  retention: 2d\n  max_size: 1GiB\n%s%s", reload_base,
	    base_participant);
	nw = load_ok("new.yaml", text);
	ck_assert_ptr_null(conf_restart_key(old, nw, NULL));
	conf_free(nw);
	snprintf(text, sizeof(text), "store:\n  path: b.db\n%s%s",
	    reload_base, base_participant);
	nw = load_ok("new.yaml", text);
	k = conf_restart_key(old, nw, &line);
	ck_assert_ptr_nonnull(k);
	ck_assert_str_eq(k, "store.path");
	ck_assert_int_eq(line, 2);
	conf_free(nw);
	snprintf(text, sizeof(text), "store:\n  path: a.db\n  sync: full\n"
	    "%s%s", reload_base, base_participant);
	nw = load_ok("new.yaml", text);
	k = conf_restart_key(old, nw, &line);
	ck_assert_ptr_nonnull(k);
	ck_assert_str_eq(k, "store.sync");
	ck_assert_int_eq(line, 3);
	conf_free(nw);
	snprintf(text, sizeof(text), "store: off\n%s%s", reload_base,
	    base_participant);
	nw = load_ok("new.yaml", text);
	k = conf_restart_key(old, nw, NULL);
	ck_assert_ptr_nonnull(k);
	ck_assert_str_eq(k, "store.path");
	conf_free(nw);
	conf_free(old);
}
END_TEST

/* A fresh key pair's private half, as `becknd keygen` prints it. */
static void
write_new_key(const char *path)
{
	struct sig_key	*k;
	char		 b64[89];
	FILE		*f;

	ck_assert_ptr_nonnull(k = sig_key_generate());
	ck_assert_int_eq(sig_key_private_b64(k, b64), 0);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fprintf(f, "%s\n", b64);
	fclose(f);
	sig_key_free(k);
}

START_TEST(keys_equal_by_prefix)
{
	struct conf	*a, *b;
	char		 text[2048], two[4096], keypath[300];

	snprintf(text, sizeof(text), "%s%s", reload_base, base_participant);
	a = load_ok("a.yaml", text);
	b = load_ok("b.yaml", text);
	ck_assert_int_eq(conf_keys_equal(a, b, ""), 1);
	ck_assert_int_eq(conf_keys_equal(a, b, "registry."), 1);
	ck_assert_int_eq(conf_keys_equal(a, b, "participants"), 1);
	ck_assert_int_eq(conf_keys_equal(a, b, "no.such.prefix"), 1);
	conf_free(b);

	/* registry.cache_ttl differs: only prefixes covering it see it. */
	memcpy(strstr(text, "5m }"), "6m", 2);
	b = load_ok("b.yaml", text);
	ck_assert_int_eq(conf_keys_equal(a, b, "registry."), 0);
	ck_assert_int_eq(conf_keys_equal(a, b, "registry.cache_ttl"), 0);
	ck_assert_int_eq(conf_keys_equal(a, b, "registry.url"), 1);
	ck_assert_int_eq(conf_keys_equal(a, b, "limits."), 1);
	ck_assert_int_eq(conf_keys_equal(a, b, "participants"), 1);
	ck_assert_int_eq(conf_keys_equal(a, b, ""), 0);
	conf_free(b);

	/* The registry URL (a string). */
	snprintf(text, sizeof(text), "%s%s", reload_base, base_participant);
	memcpy(strstr(text, "r.example"), "q", 1);
	b = load_ok("b.yaml", text);
	ck_assert_int_eq(conf_keys_equal(a, b, "registry."), 0);
	ck_assert_int_eq(conf_keys_equal(a, b, "listen."), 1);
	conf_free(b);

	/* A participant's list of domains. */
	snprintf(text, sizeof(text), "%s%s", reload_base, base_participant);
	memcpy(strstr(text, "onest:courses"), "onest:jobs,x ", 13);
	b = load_ok("b.yaml", text);
	ck_assert_uint_eq(b->participants[0].ndomains, 2);
	ck_assert_int_eq(conf_keys_equal(a, b, "participants"), 0);
	ck_assert_int_eq(conf_keys_equal(a, b, "participants[].domains"), 0);
	ck_assert_int_eq(conf_keys_equal(a, b, "participants[].webhook"), 1);
	ck_assert_int_eq(conf_keys_equal(a, b, "registry."), 1);
	conf_free(b);

	/* One participant more: not equal, whatever else is. */
	snprintf(two, sizeof(two), "%s%s"
	    "  - subscriber_id: bpp.example.org\n"
	    "    key_id: k1\n"
	    "    role: bpp\n"
	    "    private_key: " KEY64 "\n"
	    "    subscriber_url: https://bpp.example.org/bpp\n"
	    "    webhook: http://127.0.0.1:3000/\n", reload_base,
	    base_participant);
	b = load_ok("b.yaml", two);
	ck_assert_int_eq(conf_keys_equal(a, b, "participants"), 0);
	ck_assert_int_eq(conf_keys_equal(a, b, "participants[].role"), 0);
	ck_assert_int_eq(conf_keys_equal(a, b, "registry."), 1);
	conf_free(b);
	conf_free(a);

	/* Same key file path, rotated content: a difference. */
	snprintf(keypath, sizeof(keypath), "%s/rot.key", dir);
	write_new_key(keypath);
	snprintf(text, sizeof(text), "participants:\n"
	    "  - subscriber_id: bap.example.org\n"
	    "    key_id: k1\n"
	    "    private_key_file: rot.key\n"
	    "    subscriber_url: https://bap.example.org/beckn/\n"
	    "    webhook: http://127.0.0.1:3000/beckn/{action}\n");
	a = load_ok("a.yaml", text);
	b = load_ok("b.yaml", text);
	ck_assert_int_eq(conf_keys_equal(a, b, "participants"), 1);
	conf_free(b);
	write_new_key(keypath);
	b = load_ok("b.yaml", text);
	ck_assert_int_eq(conf_keys_equal(a, b, "participants"), 0);
	ck_assert_int_eq(conf_keys_equal(a, b,
	    "participants[].private_key_file"), 0);
	ck_assert_int_eq(conf_keys_equal(a, b, "participants[].webhook"), 1);
	conf_free(b);
	conf_free(a);
	unlink(keypath);
}
END_TEST

START_TEST(participant_checks)
{
	char	 text[2048];

	expect_error("participants:\n  - subscriber_id: a\n    key_id: k\n"
	    "    subscriber_url: https://a/x\n    webhook: http://h/\n", 2,
	    "exactly one of private_key_file and private_key");
	expect_error("participants:\n  - subscriber_id: a\n    key_id: k\n"
	    "    private_key_file: /nonexistent/key\n"
	    "    subscriber_url: https://a/x\n    webhook: http://h/\n", 4,
	    "/nonexistent/key");
	/* Public half that does not match the seed. */
	expect_error("participants:\n  - subscriber_id: a\n    key_id: k\n"
	    "    private_key: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8AoQe/"
	    "884Qvh1w3RjnS8CZZ+TWMJulDV8d3IZkElUxuA==\n"
	    "    subscriber_url: https://a/x\n    webhook: http://h/\n", 4,
	    "does not match the seed");
	expect_error("participants:\n  - subscriber_id: a\n    key_id: k\n"
	    "    private_key: " KEY64 "\n"
	    "    subscriber_url: a/x\n    webhook: http://h/\n", 2,
	    "subscriber_url");
	expect_error("participants:\n  - subscriber_id: a\n    key_id: k\n"
	    "    private_key: " KEY64 "\n"
	    "    subscriber_url: https://a/x\n", 2, "webhook is required");
	expect_error("participants:\n  - subscriber_id: a|b\n    key_id: k\n",
	    2, "subscriber_id");
	snprintf(text, sizeof(text), "%s"
	    "  - subscriber_id: bpp.example.org\n"
	    "    key_id: k1\n"
	    "    role: bpp\n"
	    "    private_key: " KEY64 "\n"
	    "    subscriber_url: https://bpp.example.org/beckn\n"
	    "    webhook: http://127.0.0.1:3000/\n", base_participant);
	expect_error(text, 9, "path \"/beckn\" of subscriber_url is already "
	    "used by participants[0]");
}
END_TEST

START_TEST(key_file_and_gateway)
{
	char		 err[512], text[1024], keypath[300];
	struct conf	*c;
	FILE		*f;

	snprintf(keypath, sizeof(keypath), "%s/gw.key", dir);
	ck_assert_ptr_nonnull(f = fopen(keypath, "w"));
	fputs(KEY64 "\n", f);	/* as `becknd keygen` users save it */
	fclose(f);
	snprintf(text, sizeof(text),
	    "participants:\n"
	    "  - subscriber_id: gw.example.org\n"
	    "    key_id: g1\n"
	    "    role: gateway\n"
	    "    private_key_file: gw.key\n"
	    "    subscriber_url: https://gw.example.org/\n");
	c = conf_load(write_conf("gw.yaml", text), err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(c->participants[0].role, BECKN_ROLE_GATEWAY);
	ck_assert_str_eq(c->participants[0].path, "");
	ck_assert_ptr_nonnull(c->participants[0].key);
	conf_free(c);
	unlink(keypath);
}
END_TEST

START_TEST(key_table_lists_every_key)
{
	const char *const	*k = conf_key_names();
	size_t			 n = 0;
	int			 saw_registry_url = 0, saw_role = 0;

	for (; *k != NULL; k++, n++) {
		if (strcmp(*k, "registry.url") == 0)
			saw_registry_url = 1;
		if (strcmp(*k, "participants[].role") == 0)
			saw_role = 1;
	}
	ck_assert(n > 20);
	ck_assert(saw_registry_url && saw_role);
}
END_TEST

START_TEST(missing_file)
{
	char		 err[512];

	ck_assert_ptr_null(conf_load("/nonexistent/becknd.yaml", err,
	    sizeof(err)));
	ck_assert_str_eq(err, "/nonexistent/becknd.yaml: No such file or "
	    "directory");
	ck_assert_ptr_null(conf_load(write_conf("empty.yaml", ""), err,
	    sizeof(err)));
	ck_assert(strstr(err, "empty") != NULL);
}
END_TEST

/* Issue 10's delivery keys: defaults, values and bounds. */
START_TEST(delivery_limits)
{
	char		 err[512], text[2048];
	struct conf	*c;

	snprintf(text, sizeof(text), "%s", base_participant);
	ck_assert_ptr_nonnull(c = conf_load(write_conf("d0.yaml", text), err,
	    sizeof(err)));
	ck_assert_uint_eq(c->queue_size, 10000);
	ck_assert_uint_eq(c->queue_bytes, 64u << 20);
	ck_assert_int_eq(c->webhook_retries, 0);
	ck_assert_int_eq(c->webhook_max_attempts, 0);
	ck_assert_int_eq(c->webhook_max_age_ms, 24LL * 3600 * 1000);
	ck_assert_int_eq(c->webhook_max_inflight, 16);
	ck_assert_uint_eq(c->dead_letters, 1000);
	ck_assert_uint_eq(c->dead_letter_bytes, 64u << 20);
	conf_free(c);

	snprintf(text, sizeof(text), "delivery: { queue_bytes: 1MiB, "
	    "max_attempts: 5, max_age: 2h, max_inflight: 4, dead_letters: 0, "
	    "dead_letter_bytes: 0 }\n%s", base_participant);
	ck_assert_ptr_nonnull(c = conf_load(write_conf("d1.yaml", text), err,
	    sizeof(err)));
	ck_assert_uint_eq(c->queue_bytes, 1u << 20);
	ck_assert_int_eq(c->webhook_max_attempts, 5);
	ck_assert_int_eq(c->webhook_max_age_ms, 2LL * 3600 * 1000);
	ck_assert_int_eq(c->webhook_max_inflight, 4);
	ck_assert_uint_eq(c->dead_letters, 0);
	ck_assert_uint_eq(c->dead_letter_bytes, 0);
	conf_free(c);

	snprintf(text, sizeof(text), "delivery:\n  max_age: 30s\n%s",
	    base_participant);
	expect_error(text, 2, "delivery.max_age");
	snprintf(text, sizeof(text), "delivery:\n  max_age: 31d\n%s",
	    base_participant);
	expect_error(text, 2, "1m to 30d");
	snprintf(text, sizeof(text), "delivery:\n  max_inflight: 0\n%s",
	    base_participant);
	expect_error(text, 2, "delivery.max_inflight");
}
END_TEST

/*
 * `becknd register` writes records that `becknd lookup` (the daemon's own
 * registry client) accepts; running it again replaces, not duplicates.
 */
START_TEST(register_then_lookup)
{
	struct test_run	 r;
	char		 cpath[300], rpath[300], text[1024];
	char		*json;
	FILE		*f;

	snprintf(rpath, sizeof(rpath), "%s/reg.json", dir);
	snprintf(cpath, sizeof(cpath), "%s/reg.yaml", dir);
	snprintf(text, sizeof(text), "registry: { file: reg.json }\n%s",
	    base_participant);
	ck_assert_ptr_nonnull(f = fopen(cpath, "w"));
	fputs(text, f);
	fclose(f);
	unlink(rpath);

	/* No file yet: register creates it. */
	TEST_RUN(&r, NULL, 0, "register", "-c", cpath);
	ck_assert_msg(r.status == 0, "register: %s", r.err);
	snprintf(text, sizeof(text), "registered bap.example.org (BAP, key "
	    "k1, domain onest:courses) in %s\n", rpath);
	ck_assert_str_eq(r.out, text);
	test_run_free(&r);
	TEST_RUN(&r, NULL, 0, "register", "-c", cpath);
	ck_assert_int_eq(r.status, 0);
	test_run_free(&r);
	json = test_read_file(rpath, NULL);
	/* One record, not two, after the second run. */
	ck_assert_ptr_nonnull(strstr(json, "\"bap.example.org\""));
	ck_assert_ptr_null(strstr(strstr(json, "\"bap.example.org\"") + 1,
	    "\"bap.example.org\""));
	ck_assert_ptr_nonnull(strstr(json, "\"SUBSCRIBED\""));
	/* The public key of KEY64 (seed 0x00..0x1f). */
	ck_assert_ptr_nonnull(strstr(json,
	    "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="));
	free(json);

	TEST_RUN(&r, NULL, 0, "lookup", "-c", cpath, "bap.example.org", "k1");
	ck_assert_msg(r.status == 0, "lookup: %s %s", r.out, r.err);
	ck_assert_ptr_nonnull(strstr(r.out,
	    "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="));
	test_run_free(&r);

	TEST_RUN(&r, NULL, 0, "register", "-c", "/nonexistent.yaml");
	ck_assert_int_eq(r.status, 2);
	test_run_free(&r);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("conf");
	TCase	*tc = tcase_create("conf");
	int	 rc;

	tcase_add_test(tc, defaults_and_values);
	tcase_add_test(tc, env_expansion);
	tcase_add_test(tc, errors_name_file_and_line);
	tcase_add_test(tc, late_errors_have_lines);
	tcase_add_test(tc, bounds_named_in_issue);
	tcase_add_test(tc, every_bounded_key_refuses_out_of_range);
	tcase_add_test(tc, order_between_keys);
	tcase_add_test(tc, computed_defaults_and_off);
	tcase_add_test(tc, key_table_columns);
	tcase_add_test(tc, restart_key_on_reload);
	tcase_add_test(tc, keys_equal_by_prefix);
	tcase_add_test(tc, participant_checks);
	tcase_add_test(tc, key_file_and_gateway);
	tcase_add_test(tc, key_table_lists_every_key);
	tcase_add_test(tc, missing_file);
	tcase_add_test(tc, client_listener_exposure);
	tcase_add_test(tc, memory_max_default);
	tcase_add_test(tc, participant_id_length);
	tcase_add_test(tc, delivery_limits);
	tcase_add_test(tc, register_then_lookup);
	suite_add_tcase(s, tc);
	if (mkdtemp(dir) == NULL)
		return 99;
	rc = test_run_suite(s);
	test_rmtree(dir);
	return rc;
}
