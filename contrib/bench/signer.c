/*
 * signer.c - signs many bodies at once for `make bench-load`.
 *
 *   signer PRIVATE_KEY SUBSCRIBER_ID KEY_ID CREATED EXPIRES < bodies
 *
 * Reads one body per line (compact JSON: no raw newline inside), signs
 * each exactly as `becknd sign` does (the same sig_sign_header()) and
 * writes "AUTHORIZATION<TAB>BODY" per line.  PRIVATE_KEY is base64 or
 * @FILE, like `becknd sign --private-key`.  One process instead of one
 * `becknd sign` per message: tens of thousands of bodies in a second.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sig/sig.h"

static char *
read_key(const char *arg)
{
	static char	 buf[8192];
	FILE		*f;
	size_t		 n;

	if (arg[0] != '@')
		return strdup(arg);
	if ((f = fopen(arg + 1, "r")) == NULL) {
		fprintf(stderr, "signer: %s: %s\n", arg + 1, strerror(errno));
		exit(2);
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strdup(buf);
}

int
main(int argc, char **argv)
{
	struct sig_key	*key;
	char		 err[256], *text, *line = NULL, *h;
	size_t		 cap = 0, n = 0;
	ssize_t		 len;
	long long	 created, expires;

	if (argc != 6) {
		fprintf(stderr, "usage: signer PRIVATE_KEY SUBSCRIBER_ID "
		    "KEY_ID CREATED EXPIRES < bodies\n");
		return 2;
	}
	text = read_key(argv[1]);
	key = sig_key_private_parse(text, strlen(text), err, sizeof(err));
	free(text);
	if (key == NULL) {
		fprintf(stderr, "signer: private key: %s\n", err);
		return 2;
	}
	created = strtoll(argv[4], NULL, 10);
	expires = strtoll(argv[5], NULL, 10);
	while ((len = getline(&line, &cap, stdin)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (len == 0)
			continue;
		h = sig_sign_header(key, argv[2], argv[3], created, expires,
		    line, (size_t)len, NULL);
		if (h == NULL) {
			fprintf(stderr, "signer: signing body %zu failed\n",
			    n + 1);
			return 1;
		}
		if (printf("%s\t%s\n", h, line) < 0) {
			perror("signer: write");
			return 1;
		}
		free(h);
		n++;
	}
	free(line);
	sig_key_free(key);
	if (fflush(stdout) != 0) {
		perror("signer: write");
		return 1;
	}
	fprintf(stderr, "signer: %zu bodies signed\n", n);
	return 0;
}
