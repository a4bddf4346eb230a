/*
 * check_sig_vectors.c - the signing module against the shared BECKN-006
 * vectors ($BECKND_SHARED/spec/test-vectors/signing-vectors.json), through
 * the library and through the real `becknd sign` / `becknd verify`.
 *
 * Every entry of the "signatures" and "blake2b_512" arrays is a test of its
 * own (loop tests), so a new vector is covered without editing this file;
 * an entry whose shape is not understood fails rather than being skipped.
 * Exits 77 (SKIP) when the shared data is absent.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json.h>

#include "testutil.h"
#include "sig/sig.h"
#include "util/b64.h"
#include "util/xmalloc.h"

#define VECTORS_REL	"spec/test-vectors/signing-vectors.json"
#define VECTORS_DIR_REL	"spec/test-vectors"

static json_object	*vectors;	/* the whole file */
static json_object	*sigs;		/* "signatures" */
static json_object	*blakes;	/* "blake2b_512" */
static char		*vdir;		/* folder of the vectors */

/* JSON access. */

static const char *
jstr(json_object *o, const char *key)
{
	json_object	*v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static const char *
jstr_req(json_object *o, const char *id, const char *key)
{
	const char	*s = jstr(o, key);

	ck_assert_msg(s != NULL, "vector %s: no string \"%s\"", id, key);
	return s;
}

static int64_t
jint_req(json_object *o, const char *id, const char *key)
{
	json_object	*v;

	ck_assert_msg(json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_int), "vector %s: no integer "
	    "\"%s\"", id, key);
	return json_object_get_int64(v);
}

/* -1 absent, else 0/1. */
static int
jbool(json_object *o, const char *key)
{
	json_object	*v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_boolean))
		return -1;
	return json_object_get_boolean(v) ? 1 : 0;
}

static const char *
entry_id(json_object *e)
{
	const char	*id = jstr(e, "id");

	return id != NULL ? id : "(no id)";
}

static char *
read_vector_file(const char *name, size_t *len)
{
	char	*path, *buf;

	ck_assert_msg(strchr(name, '/') == NULL, "body file \"%s\" leaves the "
	    "vectors folder", name);
	xasprintf(&path, "%s/%s", vdir, name);
	buf = test_read_file(path, len);
	free(path);
	return buf;
}

/*
 * The body bytes of an entry: <pfx>_file (a file beside the vectors),
 * <pfx>_utf8 (inline), or the prose form the file uses for derived bodies,
 * "FILE + '\n'" / "FILE + trailing '\n'" in <pfx>.  NULL when the entry has
 * none of these; a form not understood fails the test.
 */
static char *
entry_body(json_object *e, const char *pfx, size_t *len)
{
	const char	*id = entry_id(e), *s, *plus, *tail;
	char		 key[32], *file, *body;
	json_object	*v;

	snprintf(key, sizeof(key), "%s_file", pfx);
	if ((s = jstr(e, key)) != NULL)
		return read_vector_file(s, len);
	snprintf(key, sizeof(key), "%s_utf8", pfx);
	if (json_object_object_get_ex(e, key, &v)) {
		ck_assert_msg(json_object_is_type(v, json_type_string),
		    "vector %s: %s is not a string", id, key);
		*len = (size_t)json_object_get_string_len(v);
		return xmemdup(json_object_get_string(v), *len + 1);
	}
	if ((s = jstr(e, pfx)) == NULL)
		return NULL;
	plus = strstr(s, " + ");
	ck_assert_msg(plus != NULL, "vector %s: cannot interpret %s \"%s\"",
	    id, pfx, s);
	tail = plus + 3;
	if (strncmp(tail, "trailing ", 9) == 0)
		tail += 9;
	ck_assert_msg(strcmp(tail, "'\\n'") == 0, "vector %s: cannot "
	    "interpret %s \"%s\"", id, pfx, s);
	file = xstrndup(s, (size_t)(plus - s));
	body = read_vector_file(file, len);
	free(file);
	body = xrealloc(body, *len + 2);
	body[(*len)++] = '\n';
	body[*len] = '\0';
	return body;
}

/* Classification of a "signatures" entry. */
enum kind { K_POSITIVE, K_NEGATIVE_VERIFY, K_NEGATIVE_SIGNING_STRING };

static enum kind
entry_kind(json_object *e)
{
	if (jbool(e, "expect_verify") == 1)
		return K_POSITIVE;
	if (jbool(e, "expect_verify") == 0)
		return K_NEGATIVE_VERIFY;
	if (jbool(e, "expect_verify_against_canonical_signing_string") == 0)
		return K_NEGATIVE_SIGNING_STRING;
	ck_abort_msg("vector %s: neither expect_verify nor "
	    "expect_verify_against_canonical_signing_string", entry_id(e));
	return K_POSITIVE;
}

static struct sig_key *
priv_key(const char *id, const char *text)
{
	struct sig_key	*k;
	char		 err[200] = "";

	k = sig_key_private_parse(text, strlen(text), err, sizeof(err));
	ck_assert_msg(k != NULL, "vector %s: private key rejected: %s", id,
	    err);
	return k;
}

static struct sig_key *
pub_key(const char *id, const char *text)
{
	struct sig_key	*k;
	char		 err[200] = "";

	k = sig_key_public_parse(text, strlen(text), err, sizeof(err));
	ck_assert_msg(k != NULL, "vector %s: public key rejected: %s", id,
	    err);
	return k;
}

static void
decode_sig(const char *id, const char *b64, unsigned char sig[64])
{
	ck_assert_msg(b64_decode(b64, strlen(b64), sig, 64) == 64,
	    "vector %s: signature is not base64 of 64 bytes", id);
}

/*
 * A header for entries that carry no header_value: the vector's times and
 * signature under a made-up keyId (the keyId is not signed).
 */
static char *
make_header(int64_t created, int64_t expires, const char *sig_b64)
{
	char	*h;

	xasprintf(&h, "Signature keyId=\"vectors.example|k1|ed25519\","
	    "algorithm=\"ed25519\",created=\"%lld\",expires=\"%lld\","
	    "headers=\"(created) (expires) digest\",signature=\"%s\"",
	    (long long)created, (long long)expires, sig_b64);
	return h;
}

/* The vectors themselves. */

START_TEST(vectors_inventory)
{
	static const char *const required[] = {
		"beckn006-bap-authorization",
		"ondc-reference-utility-authorization",
		"beckn006-bg-x-gateway-authorization-derived",
		"protocol-server-style",
		"beckn-onix-style",
		"negative-trailing-newline-in-signing-string",
		"negative-body-tampered",
		"negative-wrong-key",
	};
	size_t	 n, i, j, npos = 0, nseed = 0, nneg = 0;
	int	 found;

	n = json_object_array_length(sigs);
	ck_assert_msg(n >= 8, "only %zu signature vectors", n);
	ck_assert_uint_ge(json_object_array_length(blakes), 3);
	for (i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(sigs, i);

		if (entry_kind(e) == K_POSITIVE) {
			npos++;
			nseed += jstr(e, "signing_private_key_seed") != NULL;
		} else
			nneg++;
	}
	ck_assert_uint_ge(npos, 5);
	ck_assert_uint_ge(nseed, 1);
	ck_assert_uint_ge(nneg, 3);
	for (j = 0; j < sizeof(required) / sizeof(required[0]); j++) {
		found = 0;
		for (i = 0; i < n; i++)
			found |= strcmp(entry_id(json_object_array_get_idx(
			    sigs, i)), required[j]) == 0;
		ck_assert_msg(found, "vector %s is missing", required[j]);
	}
	fprintf(stderr, "check_sig_vectors: %zu signature vectors (%zu "
	    "positive, %zu negative), %zu BLAKE2b-512 vectors\n", n, npos,
	    nneg, json_object_array_length(blakes));
}
END_TEST

START_TEST(blake2b_vector)
{
	json_object	*e = json_object_array_get_idx(blakes, (size_t)_i);
	const char	*id = jstr(e, "source"), *want, *hex;
	char		*body, d[SIG_DIGEST_B64_LEN], got_hex[129];
	unsigned char	 raw[64];
	size_t		 len, k;
	json_object	*v;

	if (id == NULL)
		id = "blake2b_512 entry";
	body = entry_body(e, "input", &len);
	ck_assert_msg(body != NULL, "blake2b_512[%d]: no input", _i);
	want = jstr_req(e, id, "base64");
	ck_assert_int_eq(sig_digest(body, len, d), 0);
	ck_assert_msg(strcmp(d, want) == 0, "blake2b_512[%d]: digest %s, "
	    "expected %s", _i, d, want);
	if (json_object_object_get_ex(e, "input_length_bytes", &v))
		ck_assert_uint_eq(len, (size_t)json_object_get_int64(v));
	if ((hex = jstr(e, "hex")) != NULL) {
		ck_assert_int_eq(b64_decode(d, strlen(d), raw, sizeof(raw)),
		    64);
		for (k = 0; k < 64; k++)
			snprintf(got_hex + 2 * k, 3, "%02x", raw[k]);
		ck_assert_str_eq(got_hex, hex);
	}
	free(body);
}
END_TEST

static void
positive_library(json_object *e, const char *id)
{
	const char		*hv, *ss, *dg, *sg, *seed;
	struct sig_key		*k, *pk, *ks;
	struct sig_header	 h;
	char			*body, *hdr, d[SIG_DIGEST_B64_LEN], buf[256];
	char			 sigb[89];
	unsigned char		 sig[64], want_sig[64];
	int64_t			 created, expires;
	size_t			 len;
	int			 n;

	body = entry_body(e, "body", &len);
	ck_assert_msg(body != NULL, "vector %s: no body", id);
	hv = jstr_req(e, id, "header_value");
	ss = jstr_req(e, id, "signing_string");
	dg = jstr_req(e, id, "digest");
	sg = jstr_req(e, id, "signature");
	created = jint_req(e, id, "created");
	expires = jint_req(e, id, "expires");
	k = priv_key(id, jstr_req(e, id, "signing_private_key"));
	pk = pub_key(id, jstr_req(e, id, "signing_public_key"));
	ck_assert_msg(memcmp(sig_key_public_raw(k), sig_key_public_raw(pk),
	    32) == 0, "vector %s: private key's public half is not "
	    "signing_public_key", id);
	decode_sig(id, sg, want_sig);

	/* (b) digest and signing string. */
	ck_assert_int_eq(sig_digest(body, len, d), 0);
	ck_assert_msg(strcmp(d, dg) == 0, "vector %s: digest %s, expected "
	    "%s", id, d, dg);
	n = sig_signing_string(created, expires, d, buf, sizeof(buf));
	ck_assert_int_eq(n, (int)strlen(ss));
	ck_assert_msg(strcmp(buf, ss) == 0, "vector %s: signing string\n%s\n"
	    "expected\n%s", id, buf, ss);

	/* (c) the raw signature. */
	ck_assert_int_eq(sig_ed25519_sign(k, ss, strlen(ss), sig), 0);
	b64_encode(sig, 64, sigb);
	ck_assert_msg(strcmp(sigb, sg) == 0, "vector %s: signature %s, "
	    "expected %s", id, sigb, sg);

	/* (a) the header, with subscriber and key id from its keyId. */
	ck_assert_msg(sig_header_parse(hv, strlen(hv), &h) == SIG_OK,
	    "vector %s: header_value does not parse", id);
	ck_assert(h.created == created && h.expires == expires);
	ck_assert_mem_eq(h.signature, want_sig, 64);
	hdr = sig_sign_header(k, h.subscriber_id, h.key_id, created, expires,
	    body, len, NULL);
	ck_assert_ptr_nonnull(hdr);
	ck_assert_msg(strcmp(hdr, hv) == 0, "vector %s: header\n%s\n"
	    "expected\n%s", id, hdr, hv);
	free(hdr);
	hdr = sig_sign_header(k, h.subscriber_id, h.key_id, created, expires,
	    body, len, dg);
	ck_assert_str_eq(hdr, hv);
	free(hdr);
	if ((seed = jstr(e, "signing_private_key_seed")) != NULL) {
		ks = priv_key(id, seed);
		ck_assert_mem_eq(sig_key_public_raw(ks), sig_key_public_raw(k),
		    32);
		hdr = sig_sign_header(ks, h.subscriber_id, h.key_id, created,
		    expires, body, len, NULL);
		ck_assert_msg(hdr != NULL && strcmp(hdr, hv) == 0, "vector %s: "
		    "header signed with the seed differs", id);
		free(hdr);
		sig_key_free(ks);
	}

	/* (d) verification at now = created (the vectors are from 2022). */
	ck_assert_int_eq(sig_check_time(&h, created, SIG_DEFAULT_SKEW_S),
	    SIG_OK);
	ck_assert_int_eq(sig_verify_digest(&h, pk, d), SIG_OK);
	ck_assert_int_eq(sig_ed25519_verify(pk, ss, strlen(ss), want_sig), 0);
	/* ... and not today, nor under another vector's body. */
	ck_assert_int_eq(sig_check_time(&h, expires + SIG_DEFAULT_SKEW_S + 1,
	    SIG_DEFAULT_SKEW_S), SIG_E_EXPIRED);
	ck_assert_int_eq(sig_digest(body, len > 0 ? len - 1 : 0, d), 0);
	ck_assert_int_eq(sig_verify_digest(&h, pk, d), SIG_E_BAD_SIGNATURE);

	sig_key_free(k);
	sig_key_free(pk);
	free(body);
}

static void
negative_verify_library(json_object *e, const char *id)
{
	const char		*sg, *dg, *hv;
	struct sig_key		*pk;
	struct sig_header	 h;
	char			*body, *hdr, d[SIG_DIGEST_B64_LEN];
	int64_t			 created;
	size_t			 len;

	body = entry_body(e, "body", &len);
	ck_assert_msg(body != NULL, "vector %s: no body", id);
	sg = jstr_req(e, id, "signature");
	created = jint_req(e, id, "created");
	pk = pub_key(id, jstr_req(e, id, "signing_public_key"));
	ck_assert_int_eq(sig_digest(body, len, d), 0);
	/* A stated digest proves the body was read as the vector means. */
	if ((dg = jstr(e, "digest")) != NULL)
		ck_assert_msg(strcmp(d, dg) == 0, "vector %s: digest %s, "
		    "expected %s", id, d, dg);
	if ((hv = jstr(e, "header_value")) != NULL)
		hdr = xstrdup(hv);
	else
		hdr = make_header(created, jint_req(e, id, "expires"), sg);
	ck_assert_int_eq(sig_header_parse(hdr, strlen(hdr), &h), SIG_OK);
	ck_assert_int_eq(sig_check_time(&h, created, SIG_DEFAULT_SKEW_S),
	    SIG_OK);
	ck_assert_msg(sig_verify_digest(&h, pk, d) == SIG_E_BAD_SIGNATURE,
	    "vector %s verifies", id);
	free(hdr);
	free(body);
	sig_key_free(pk);
}

static void
negative_signing_string_library(json_object *e, const char *id)
{
	const char		*ss, *sg, *priv;
	struct sig_key		*pk, *k;
	struct sig_header	 h;
	long long		 c, x;
	char			 dg[100], *canon, rebuilt[256], *hdr;
	unsigned char		 sig[64], mine[64];
	size_t			 n;

	ss = jstr_req(e, id, "signing_string");
	sg = jstr_req(e, id, "signature");
	pk = pub_key(id, jstr_req(e, id, "signing_public_key"));
	decode_sig(id, sg, sig);
	n = strlen(ss);
	ck_assert_msg(n > 0 && ss[n - 1] == '\n', "vector %s: the signing "
	    "string does not end in LF", id);
	canon = xstrndup(ss, n - 1);
	/* The string minus its LF is exactly what we would sign. */
	ck_assert_int_eq(sscanf(canon, "(created): %lld\n(expires): %lld\n"
	    "digest: BLAKE-512=%99s", &c, &x, dg), 3);
	ck_assert_int_eq(sig_signing_string(c, x, dg, rebuilt,
	    sizeof(rebuilt)), (int)(n - 1));
	ck_assert_str_eq(rebuilt, canon);

	ck_assert_msg(sig_ed25519_verify(pk, canon, n - 1, sig) == -1,
	    "vector %s verifies over the canonical signing string", id);
	ck_assert_msg(sig_ed25519_verify(pk, ss, n, sig) == 0,
	    "vector %s does not verify over its own string", id);
	hdr = make_header(c, x, sg);
	ck_assert_int_eq(sig_header_parse(hdr, strlen(hdr), &h), SIG_OK);
	ck_assert_int_eq(sig_verify_digest(&h, pk, dg), SIG_E_BAD_SIGNATURE);
	if ((priv = jstr(e, "signing_private_key")) != NULL) {
		k = priv_key(id, priv);
		ck_assert_int_eq(sig_ed25519_sign(k, ss, n, mine), 0);
		ck_assert_mem_eq(mine, sig, 64);
		ck_assert_int_eq(sig_ed25519_sign(k, canon, n - 1, mine), 0);
		ck_assert(memcmp(mine, sig, 64) != 0);
		sig_key_free(k);
	}
	free(hdr);
	free(canon);
	sig_key_free(pk);
}

START_TEST(signature_vector)
{
	json_object	*e = json_object_array_get_idx(sigs, (size_t)_i);
	const char	*id = entry_id(e);

	switch (entry_kind(e)) {
	case K_POSITIVE:
		positive_library(e, id);
		break;
	case K_NEGATIVE_VERIFY:
		negative_verify_library(e, id);
		break;
	case K_NEGATIVE_SIGNING_STRING:
		negative_signing_string_library(e, id);
		break;
	}
}
END_TEST

/* The same vectors through the real binary. */


static void
assert_run(const struct test_run *r, int status, const char *out, const char *id,
    const char *what)
{
	ck_assert_msg(r->status == status && strcmp(r->out, out) == 0,
	    "vector %s, %s: exit %d (expected %d), stdout [%s] (expected "
	    "[%s]), stderr [%s]", id, what, r->status, status, r->out, out,
	    r->err);
}

/* "@path" of a temporary file holding text + "\n" (free + unlink). */
static char *
temp_key_file(const char *text, char **path)
{
	const char	*dir = getenv("TMPDIR");
	char		*arg;
	int		 fd;

	xasprintf(path, "%s/becknd-check-sig-vectors.XXXXXX", dir != NULL &&
	    *dir != '\0' ? dir : "/tmp");
	ck_assert_int_ne(fd = mkstemp(*path), -1);
	ck_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	ck_assert(write(fd, "\n", 1) == 1);
	close(fd);
	xasprintf(&arg, "@%s", *path);
	return arg;
}

static void
cli_sign_expect(const char *id, const char *key, const char *what,
    const struct sig_header *h, const char *created, const char *expires,
    const char *body, size_t len, const char *want)
{
	struct test_run	 r;

	TEST_RUN(&r, body, len, "sign", "--private-key", key, "--subscriber-id",
	    h->subscriber_id, "--key-id", h->key_id, "--created", created,
	    "--expires", expires);
	assert_run(&r, 0, want, id, what);
	ck_assert_msg(r.errlen == 0, "vector %s, %s: stderr [%s]", id, what,
	    r.err);
	test_run_free(&r);
}

static void
positive_cli(json_object *e, const char *id)
{
	const char		*hv, *priv, *pub, *seed;
	struct sig_header	 h;
	char			*body, *want, *karg, *kpath, created[24];
	char			 expires[24];
	struct test_run		 r;
	size_t			 len;

	body = entry_body(e, "body", &len);
	ck_assert_msg(body != NULL, "vector %s: no body", id);
	hv = jstr_req(e, id, "header_value");
	priv = jstr_req(e, id, "signing_private_key");
	pub = jstr_req(e, id, "signing_public_key");
	snprintf(created, sizeof(created), "%lld",
	    (long long)jint_req(e, id, "created"));
	snprintf(expires, sizeof(expires), "%lld",
	    (long long)jint_req(e, id, "expires"));
	ck_assert_int_eq(sig_header_parse(hv, strlen(hv), &h), SIG_OK);
	xasprintf(&want, "%s\n", hv);

	cli_sign_expect(id, priv, "sign", &h, created, expires, body, len,
	    want);
	karg = temp_key_file(priv, &kpath);
	cli_sign_expect(id, karg, "sign @file", &h, created, expires, body,
	    len, want);
	unlink(kpath);
	free(kpath);
	free(karg);
	if ((seed = jstr(e, "signing_private_key_seed")) != NULL) {
		cli_sign_expect(id, seed, "sign with seed", &h, created,
		    expires, body, len, want);
		karg = temp_key_file(seed, &kpath);
		cli_sign_expect(id, karg, "sign with seed @file", &h, created,
		    expires, body, len, want);
		unlink(kpath);
		free(kpath);
		free(karg);
	}

	TEST_RUN(&r, body, len, "verify", "--public-key", pub, "--authorization",
	    hv, "--now", created);
	assert_run(&r, 0, "ok\n", id, "verify");
	test_run_free(&r);
	karg = temp_key_file(pub, &kpath);
	TEST_RUN(&r, body, len, "verify", "--public-key", karg, "--authorization",
	    hv, "--now", created);
	assert_run(&r, 0, "ok\n", id, "verify @file");
	test_run_free(&r);
	unlink(kpath);
	free(kpath);
	free(karg);
	/* Without --now it is years past expiry. */
	TEST_RUN(&r, body, len, "verify", "--public-key", pub, "--authorization",
	    hv);
	assert_run(&r, 1, "expired\n", id, "verify today");
	test_run_free(&r);

	free(want);
	free(body);
}

static void
cli_expect_bad_signature(const char *id, const char *pub, const char *hdr,
    int64_t created, const char *body, size_t len)
{
	char		 now[24], want[200];
	struct test_run	 r;

	snprintf(now, sizeof(now), "%lld", (long long)created);
	snprintf(want, sizeof(want), "%s\n",
	    sig_strerror(SIG_E_BAD_SIGNATURE));
	ck_assert(strncmp(want, "bad signature", 13) == 0);
	TEST_RUN(&r, body, len, "verify", "--public-key", pub, "--authorization",
	    hdr, "--now", now);
	assert_run(&r, 1, want, id, "verify");
	test_run_free(&r);
}

static void
negative_verify_cli(json_object *e, const char *id)
{
	const char	*hv;
	char		*body, *hdr;
	size_t		 len;
	int64_t		 created = jint_req(e, id, "created");

	body = entry_body(e, "body", &len);
	ck_assert_msg(body != NULL, "vector %s: no body", id);
	if ((hv = jstr(e, "header_value")) != NULL)
		hdr = xstrdup(hv);
	else
		hdr = make_header(created, jint_req(e, id, "expires"),
		    jstr_req(e, id, "signature"));
	cli_expect_bad_signature(id, jstr_req(e, id, "signing_public_key"),
	    hdr, created, body, len);
	free(hdr);
	free(body);
}

/*
 * This entry has no body of its own: its signing string names the digest.
 * Use the body of another entry with that digest.
 */
static void
negative_signing_string_cli(json_object *e, const char *id)
{
	const char	*ss = jstr_req(e, id, "signing_string");
	long long	 c, x;
	char		 dg[100], d[SIG_DIGEST_B64_LEN], *body = NULL, *hdr;
	size_t		 i, len = 0;

	ck_assert_int_eq(sscanf(ss, "(created): %lld\n(expires): %lld\n"
	    "digest: BLAKE-512=%99s", &c, &x, dg), 3);
	for (i = 0; i < json_object_array_length(sigs) && body == NULL; i++) {
		json_object *o = json_object_array_get_idx(sigs, i);

		if (o == e || (body = entry_body(o, "body", &len)) == NULL)
			continue;
		ck_assert_int_eq(sig_digest(body, len, d), 0);
		if (strcmp(d, dg) != 0) {
			free(body);
			body = NULL;
		}
	}
	ck_assert_msg(body != NULL, "vector %s: no vector has a body with "
	    "digest %s", id, dg);
	hdr = make_header(c, x, jstr_req(e, id, "signature"));
	cli_expect_bad_signature(id, jstr_req(e, id, "signing_public_key"),
	    hdr, c, body, len);
	free(hdr);
	free(body);
}

START_TEST(signature_vector_cli)
{
	json_object	*e = json_object_array_get_idx(sigs, (size_t)_i);
	const char	*id = entry_id(e);

	switch (entry_kind(e)) {
	case K_POSITIVE:
		positive_cli(e, id);
		break;
	case K_NEGATIVE_VERIFY:
		negative_verify_cli(e, id);
		break;
	case K_NEGATIVE_SIGNING_STRING:
		negative_signing_string_cli(e, id);
		break;
	}
}
END_TEST

int
main(void)
{
	Suite	*s;
	TCase	*tc;
	char	*path;
	int	 rc, nsig, nblake;

	if (test_shared_dir() == NULL)
		return TEST_SKIP;
	if ((path = test_shared_path(VECTORS_REL)) == NULL) {
		fprintf(stderr, "SKIP: %s/%s not found\n", test_shared_dir(),
		    VECTORS_REL);
		return TEST_SKIP;
	}
	vdir = test_shared_path(VECTORS_DIR_REL);
	vectors = json_object_from_file(path);
	if (vectors == NULL ||
	    !json_object_object_get_ex(vectors, "signatures", &sigs) ||
	    !json_object_is_type(sigs, json_type_array) ||
	    !json_object_object_get_ex(vectors, "blake2b_512", &blakes) ||
	    !json_object_is_type(blakes, json_type_array)) {
		fprintf(stderr, "check_sig_vectors: %s: not JSON with "
		    "\"signatures\" and \"blake2b_512\" arrays: %s\n", path,
		    json_util_get_last_err());
		return 1;
	}
	free(path);
	nsig = (int)json_object_array_length(sigs);
	nblake = (int)json_object_array_length(blakes);
	signal(SIGPIPE, SIG_IGN);

	s = suite_create("sig_vectors");
	tc = tcase_create("library");
	tcase_add_test(tc, vectors_inventory);
	tcase_add_loop_test(tc, blake2b_vector, 0, nblake);
	tcase_add_loop_test(tc, signature_vector, 0, nsig);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tc = tcase_create("cli");
	tcase_add_loop_test(tc, signature_vector_cli, 0, nsig);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	rc = test_run_suite(s);
	json_object_put(vectors);
	free(vdir);
	return rc;
}
