/*
 * cli_register.c - `becknd register -c CONFIG [-f FILE] [--valid-for D]`:
 * add the configuration's participants to a file registry (registry.file,
 * or FILE), as the records a registry's /lookup would answer with.
 *
 * One record per participant and domain (a participant without domains
 * gets one record without a domain).  A record with the same
 * subscriber_id, key id and domain is replaced, so running it again after
 * a key rotation updates the file.  The file is written to a temporary
 * name and renamed, so a reader (SIGHUP reload) never sees half a file.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "beckn/beckn_context.h"
#include "cli/cli.h"
#include "conf/conf.h"
#include "sig/sig_key.h"
#include "util/duration.h"
#include "util/xmalloc.h"

static int
same(json_object *rec, const char *key, const char *want)
{
	json_object	*v;

	if (!json_object_object_get_ex(rec, key, &v))
		return want == NULL;
	return want != NULL && json_object_is_type(v, json_type_string) &&
	    strcmp(json_object_get_string(v), want) == 0;
}

/* Replace the record of (subscriber, key id, domain) or append. */
static void
upsert(json_object *arr, json_object *rec, const char *sub,
    const char *kid, const char *domain)
{
	json_object	*old;
	size_t		 i, n = json_object_array_length(arr);

	for (i = 0; i < n; i++) {
		old = json_object_array_get_idx(arr, i);
		if (json_object_is_type(old, json_type_object) &&
		    same(old, "subscriber_id", sub) && same(old, "ukId", kid) &&
		    same(old, "domain", domain)) {
			json_object_array_put_idx(arr, i, rec);
			return;
		}
	}
	json_object_array_add(arr, rec);
}

static json_object *
record(const struct conf_participant *p, const char *domain,
    int64_t now_ms, int64_t valid_ms)
{
	json_object	*rec = json_object_new_object();
	char		 pub[45], from[BECKN_TIMESTAMP_SIZE];
	char		 until[BECKN_TIMESTAMP_SIZE];

	sig_key_public_b64(p->key, pub);
	beckn_timestamp(now_ms, from);
	beckn_timestamp(now_ms + valid_ms, until);
	json_object_object_add(rec, "subscriber_id",
	    json_object_new_string(p->subscriber_id));
	json_object_object_add(rec, "subscriber_url",
	    json_object_new_string(p->subscriber_url));
	json_object_object_add(rec, "type",
	    json_object_new_string(beckn_role_type(p->role)));
	if (domain != NULL)
		json_object_object_add(rec, "domain",
		    json_object_new_string(domain));
	json_object_object_add(rec, "ukId", json_object_new_string(p->key_id));
	json_object_object_add(rec, "signing_public_key",
	    json_object_new_string(pub));
	json_object_object_add(rec, "status",
	    json_object_new_string("SUBSCRIBED"));
	json_object_object_add(rec, "valid_from", json_object_new_string(from));
	json_object_object_add(rec, "valid_until",
	    json_object_new_string(until));
	return rec;
}

int
cli_register(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "file", required_argument, NULL, 'f' },
		{ "valid-for", required_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 }
	};
	const struct conf_participant	*p;
	struct conf			*c = NULL;
	const char			*cpath = NULL, *file = NULL;
	json_object			*arr = NULL;
	char				 err[1024], *tmp = NULL;
	int64_t				 valid_ms = 365LL * 86400 * 1000, now_ms;
	struct timespec			 ts;
	size_t				 i, j, n = 0;
	int				 ch, rc = 1;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:f:", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cpath = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 'v':
			if (duration_parse(optarg, &valid_ms) == -1 ||
			    valid_ms <= 0) {
				fprintf(stderr, "becknd register: --valid-for: "
				    "\"%s\" is not a duration\n", optarg);
				return 2;
			}
			break;
		default:
			goto usage;
		}
	}
	if (cpath == NULL || optind != argc)
		goto usage;
	if ((c = conf_load(cpath, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	if (file == NULL && (file = c->registry.file) == NULL) {
		fprintf(stderr, "becknd register: %s has no registry.file; "
		    "name the file with -f\n", cpath);
		rc = 2;
		goto done;
	}
	if (access(file, F_OK) == 0) {
		if ((arr = json_object_from_file(file)) == NULL ||
		    !json_object_is_type(arr, json_type_array)) {
			fprintf(stderr, "becknd register: %s: not a JSON array "
			    "of subscriber records\n", file);
			goto done;
		}
	} else
		arr = json_object_new_array();

	clock_gettime(CLOCK_REALTIME, &ts);
	now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	for (i = 0; i < c->nparticipants; i++) {
		p = &c->participants[i];
		for (j = 0; j < (p->ndomains > 0 ? p->ndomains : 1); j++) {
			const char *d = p->ndomains > 0 ? p->domains[j] : NULL;

			upsert(arr, record(p, d, now_ms, valid_ms),
			    p->subscriber_id, p->key_id, d);
			printf("registered %s (%s, key %s%s%s) in %s\n",
			    p->subscriber_id, beckn_role_type(p->role),
			    p->key_id, d != NULL ? ", domain " : "",
			    d != NULL ? d : "", file);
			n++;
		}
	}
	if (n == 0) {
		fprintf(stderr, "becknd register: %s has no participants\n",
		    cpath);
		goto done;
	}
	xasprintf(&tmp, "%s.tmp.%ld", file, (long)getpid());
	if (json_object_to_file_ext(tmp, arr, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_NOSLASHESCAPE) == -1 || rename(tmp, file) == -1) {
		fprintf(stderr, "becknd register: cannot write %s: %s\n", file,
		    strerror(errno));
		unlink(tmp);
		goto done;
	}
	rc = 0;
done:
	free(tmp);
	json_object_put(arr);
	conf_free(c);
	return rc;
usage:
	fprintf(stderr, "usage: becknd register -c CONFIG [-f FILE] "
	    "[--valid-for DURATION]\n");
	return 2;
}
