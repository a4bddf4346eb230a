/*
 * cli_keys.c - `becknd keygen`, `becknd sign`, `becknd verify`.
 *
 * The body is stdin, byte for byte: no newline stripping, no JSON parsing,
 * because the signature covers exactly the bytes that travel.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "sig/sig.h"
#include "util/xmalloc.h"

/* Bodies above this are refused; the daemon's own limit is smaller. */
#define CLI_BODY_MAX	(64u << 20)

int
cli_keygen(int argc, char **argv)
{
	struct sig_key	*k;
	char		 priv[89], pub[45];

	if (argc != 1) {
		fprintf(stderr, "usage: becknd keygen\n");
		return 2;
	}
	if ((k = sig_key_generate()) == NULL ||
	    sig_key_private_b64(k, priv) == -1) {
		fprintf(stderr, "becknd keygen: key generation failed\n");
		sig_key_free(k);
		return 1;
	}
	sig_key_public_b64(k, pub);
	printf("signing_private_key=%s\nsigning_public_key=%s\n", priv, pub);
	explicit_wipe(priv, sizeof(priv));
	sig_key_free(k);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* Load a key argument (base64, PEM or @path) for sign/verify. */
static struct sig_key *
load_key(const char *cmd, const char *arg, int private)
{
	struct sig_key	*k;
	char		 err[160], *text;
	size_t		 len;

	if ((text = cli_value_or_file(arg, &len)) == NULL)
		return NULL;
	k = private ? sig_key_private_parse(text, len, err, sizeof(err)) :
	    sig_key_public_parse(text, len, err, sizeof(err));
	explicit_wipe(text, len);
	free(text);
	if (k == NULL)
		fprintf(stderr, "becknd %s: %s\n", cmd, err);
	return k;
}

int
cli_sign(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "private-key", required_argument, NULL, 'k' },
		{ "subscriber-id", required_argument, NULL, 's' },
		{ "key-id", required_argument, NULL, 'i' },
		{ "created", required_argument, NULL, 'c' },
		{ "expires", required_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*keyarg = NULL, *sub = NULL, *kid = NULL;
	struct sig_key	*k = NULL;
	long long	 created = -1, expires = -1;
	char		*body = NULL, *hdr = NULL;
	size_t		 len;
	int		 ch, rc = 2;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'k':
			keyarg = optarg;
			break;
		case 's':
			sub = optarg;
			break;
		case 'i':
			kid = optarg;
			break;
		case 'c':
		case 'e':
			if (cli_parse_int64(optarg, ch == 'c' ? &created :
			    &expires) == -1 || (ch == 'c' ? created : expires) < 0 ||
			    (ch == 'c' ? created : expires) > SIG_TIME_MAX) {
				fprintf(stderr, "becknd sign: --%s must be a "
				    "unix time in seconds (at most %lld)\n",
				    ch == 'c' ? "created" : "expires",
				    (long long)SIG_TIME_MAX);
				return 2;
			}
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc || keyarg == NULL || sub == NULL || kid == NULL)
		goto usage;
	if (*sub == '\0' || *kid == '\0' || strchr(sub, '|') != NULL ||
	    strchr(kid, '|') != NULL || strchr(sub, '"') != NULL ||
	    strchr(kid, '"') != NULL || strlen(sub) >= SIG_ID_MAX ||
	    strlen(kid) >= SIG_ID_MAX) {
		fprintf(stderr, "becknd sign: subscriber id and key id must be "
		    "non-empty, shorter than %d bytes, without '|' or '\"'\n",
		    SIG_ID_MAX);
		return 2;
	}
	if (created == -1)
		created = (long long)time(NULL);
	if (expires == -1)
		expires = created + SIG_DEFAULT_TTL_S;
	if (expires > SIG_TIME_MAX) {
		fprintf(stderr, "becknd sign: expires would be past %lld\n",
		    (long long)SIG_TIME_MAX);
		return 2;
	}
	if (expires <= created) {
		fprintf(stderr, "becknd sign: --expires must be after "
		    "--created\n");
		return 2;
	}
	if ((k = load_key("sign", keyarg, 1)) == NULL)
		return 1;
	if ((body = cli_read_stdin(CLI_BODY_MAX, &len)) == NULL) {
		fprintf(stderr, "becknd sign: cannot read the body from stdin "
		    "(at most %u bytes)\n", CLI_BODY_MAX);
		rc = 1;
		goto done;
	}
	if ((hdr = sig_sign_header(k, sub, kid, created, expires, body, len,
	    NULL)) == NULL) {
		fprintf(stderr, "becknd sign: signing failed\n");
		rc = 1;
		goto done;
	}
	printf("%s\n", hdr);
	rc = fflush(stdout) == 0 ? 0 : 1;
done:
	free(hdr);
	free(body);
	sig_key_free(k);
	return rc;
usage:
	fprintf(stderr, "usage: becknd sign --private-key KEY --subscriber-id "
	    "SUB --key-id KID [--created UNIX] [--expires UNIX] < body\n");
	return 2;
}

int
cli_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "public-key", required_argument, NULL, 'k' },
		{ "authorization", required_argument, NULL, 'a' },
		{ "now", required_argument, NULL, 'n' },
		{ "skew", required_argument, NULL, 's' },
		{ "digest", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	const char		*keyarg = NULL, *auth = NULL, *sent = NULL;
	struct sig_header	 h;
	struct sig_key		*k = NULL;
	enum sig_err		 e;
	long long		 now = -1, skew = SIG_DEFAULT_SKEW_S;
	char			*body = NULL, digest[SIG_DIGEST_B64_LEN];
	char			 why[200];
	size_t			 len;
	int			 ch, rc = 2;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'k':
			keyarg = optarg;
			break;
		case 'a':
			auth = optarg;
			break;
		case 'n':
			if (cli_parse_int64(optarg, &now) == -1 || now < 0) {
				fprintf(stderr, "becknd verify: --now must be "
				    "a unix time in seconds\n");
				return 2;
			}
			break;
		case 's':
			if (cli_parse_int64(optarg, &skew) == -1 || skew < 0) {
				fprintf(stderr, "becknd verify: --skew must be "
				    "a number of seconds\n");
				return 2;
			}
			break;
		case 'd':
			sent = optarg;
			if (strncmp(sent, "BLAKE-512=", 10) == 0)
				sent += 10;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc || keyarg == NULL || auth == NULL)
		goto usage;
	if (now == -1)
		now = (long long)time(NULL);
	if ((k = load_key("verify", keyarg, 0)) == NULL)
		return 1;
	if ((body = cli_read_stdin(CLI_BODY_MAX, &len)) == NULL) {
		fprintf(stderr, "becknd verify: cannot read the body from "
		    "stdin (at most %u bytes)\n", CLI_BODY_MAX);
		rc = 1;
		goto done;
	}
	rc = 1;
	if ((e = sig_header_parse(auth, strlen(auth), &h)) != SIG_OK ||
	    (e = sig_check_time(&h, now, skew)) != SIG_OK)
		goto fail;
	if (sig_digest(body, len, digest) == -1) {
		e = SIG_E_KEY;
		goto fail;
	}
	if (sent != NULL && strcmp(sent, digest) != 0) {
		e = SIG_E_DIGEST;
		goto fail;
	}
	if ((e = sig_verify_digest(&h, k, digest)) != SIG_OK)
		goto fail;
	printf("ok\n");
	rc = 0;
	goto done;
fail:
	printf("%s\n", sig_describe(e, &h, why, sizeof(why)));
done:
	fflush(stdout);
	free(body);
	sig_key_free(k);
	return rc;
usage:
	fprintf(stderr, "usage: becknd verify --public-key KEY --authorization "
	    "'Signature ...' [--now UNIX] [--skew SECONDS] "
	    "[--digest BLAKE-512=...] < body\n");
	return 2;
}
