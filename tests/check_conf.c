/*
 * check_conf.c - the YAML configuration: defaults, types, ${VAR},
 * file:line errors, participants and keys.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "sig/sig_key.h"
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
	expect_error("listen: { network: \"nohostport\" }\n", 0,
	    "listen.network: \"nohostport\" is not host:port");
	expect_error("registry: { url: ftp://x }\n", 0, "not an http(s) URL");
	expect_error("registry: { url: http://x, file: y }\n", 0,
	    "url or file, not both");
	expect_error("participants:\n  - subscriber_id: a\n    role: admin\n",
	    3, "\"admin\" is not one of bap, bpp, gateway");
	expect_error("participants:\n  - subscriber_id: a\n    colour: red\n",
	    3, "unknown key \"participants[].colour\"");
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
	tcase_add_test(tc, participant_checks);
	tcase_add_test(tc, key_file_and_gateway);
	tcase_add_test(tc, key_table_lists_every_key);
	tcase_add_test(tc, missing_file);
	tcase_add_test(tc, register_then_lookup);
	suite_add_tcase(s, tc);
	if (mkdtemp(dir) == NULL)
		return 99;
	rc = test_run_suite(s);
	test_rmtree(dir);
	return rc;
}
