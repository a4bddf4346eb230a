/*
 * cli_lookup.c - `becknd lookup -c CONFIG SUBSCRIBER_ID [KEY_ID]`.
 *
 * Runs the registry module exactly as the daemon would (same config, same
 * filters, same usability rules) on a private event loop and prints the
 * records it could use, as "name: value" lines, or "no usable record:
 * <reason>" (followed by the rejected record when there is one).  With
 * KEY_ID every usable record of that key (one per domain or type it is
 * registered for), without it every usable record of the subscriber,
 * separated by blank lines.  Exit 0 when a usable record was found, 1
 * when not, 2 on usage or configuration errors.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "cli/cli.h"
#include "conf/conf.h"
#include "registry/registry.h"
#include "util/log.h"

struct lookup_state {
	struct event_base	*base;
	int			 done;
	int			 rc;
};

static void
usage(void)
{
	fprintf(stderr, "usage: becknd lookup -c CONFIG SUBSCRIBER_ID "
	    "[KEY_ID]\n");
}

/* One "name: value" line; control characters are escaped. */
static void
field(const char *name, const char *v)
{
	const unsigned char	*p;

	if (v == NULL)
		return;
	printf("%s: ", name);
	for (p = (const unsigned char *)v; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			printf("\\x%02x", *p);
		else
			putchar(*p);
	}
	putchar('\n');
}

static void
print_record(const struct registry_record *r, const struct registry_result *res)
{
	field("subscriber_id", r->subscriber_id);
	field("type", r->type);
	field("domain", r->domain);
	field("url", r->url);
	field("key_id", r->key_id);
	field("signing_public_key", r->signing_public_key);
	field("encr_public_key", r->encr_public_key);
	field("valid_from", r->valid_from);
	field("valid_until", r->valid_until);
	field("status", r->status);
	field("source", registry_source_name(res->source));
	if (res->stale)
		field("stale", res->reason);
}

static void
lookup_done(const struct registry_result *res, void *arg)
{
	struct lookup_state	*st = arg;
	size_t			 i;

	st->done = 1;
	event_base_loopbreak(st->base);
	if (res->status != REGISTRY_OK) {
		printf("no usable record: %s\n", res->reason);
		if (res->record != NULL) {
			printf("\n");
			print_record(res->record, res);
		}
		st->rc = 1;
		return;
	}
	for (i = 0; i < res->nrecords; i++) {
		if (i > 0)
			printf("\n");
		print_record(res->records[i], res);
	}
	st->rc = 0;
}

int
cli_lookup(int argc, char **argv)
{
	struct lookup_state	 st;
	struct conf		*conf = NULL;
	struct registry		*reg = NULL;
	const char		*cfg = NULL, *sub = NULL, *kid = NULL;
	char			 err[1024];
	int			 i, rc = 2;

	memset(&st, 0, sizeof(st));
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 ||
		    strcmp(argv[i], "--config") == 0) {
			if (++i == argc) {
				usage();
				return 2;
			}
			cfg = argv[i];
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			usage();
			return 2;
		} else if (sub == NULL)
			sub = argv[i];
		else if (kid == NULL)
			kid = argv[i];
		else {
			usage();
			return 2;
		}
	}
	if (cfg == NULL || sub == NULL) {
		usage();
		return 2;
	}
	if ((conf = conf_load(cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "becknd lookup: %s\n", err);
		return 2;
	}
	log_set_level(conf->log_level);
	if ((st.base = event_base_new()) == NULL) {
		fprintf(stderr, "becknd lookup: cannot create an event loop\n");
		goto done;
	}
	if ((reg = registry_new(st.base, &conf->registry, NULL, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "becknd lookup: %s\n", err);
		goto done;
	}
	if (kid != NULL)
		registry_lookup_key(reg, sub, kid, 0, NULL, lookup_done,
		    &st);
	else
		registry_lookup_participants(reg, NULL, NULL, sub, lookup_done,
		    &st);
	while (!st.done)
		if (event_base_loop(st.base, EVLOOP_ONCE) != 0)
			break;
	if (!st.done) {
		fprintf(stderr, "becknd lookup: event loop failed\n");
		goto done;
	}
	rc = st.rc;
done:
	fflush(stdout);
	registry_free(reg);
	if (st.base != NULL)
		event_base_free(st.base);
	conf_free(conf);
	return rc;
}
