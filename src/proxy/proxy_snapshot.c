/*
 * proxy_snapshot.c - configuration snapshots: a configuration, its
 * compiled schemas and its registry client, refcounted so that a reload
 * never pulls them from under a request in flight.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "proxy/proxy_int.h"
#include "registry/registry.h"
#include "util/log.h"
#include "util/xmalloc.h"

struct schema_set *
proxy_load_schemas(const struct conf *c, const char **used, char *err,
    size_t errlen)
{
	if (c->nschemas > 0) {
		*used = "the files of `schemas`";
		return schema_set_load((const char *const *)c->schemas,
		    c->nschemas, SCHEMA_LOAD_OPENAPI, err, errlen);
	}
	*used = schema_builtin_name();
	return schema_set_load_builtin(err, errlen);
}

static void
regshare_unref(struct regshare *rs)
{
	if (rs == NULL || --rs->refs > 0)
		return;
	registry_free(rs->registry);
	free(rs);
}

/*
 * The registry client for c: prev's when the registry settings are the
 * same and it is a URL registry (its cache is worth keeping); a new one
 * otherwise (a file registry re-reads its file here, so a broken file
 * fails the reload instead of leaving half-new state).
 */
static int
snapshot_registry_for(struct snapshot *s, struct event_base *base,
    const struct snapshot *prev, const struct clock *clock, char *err,
    size_t errlen)
{
	const struct conf	*c = s->conf;
	char			 why[512];

	if (c->registry.url == NULL && c->registry.file == NULL)
		return 0;
	if (prev != NULL && prev->reg != NULL && c->registry.url != NULL &&
	    conf_keys_equal(prev->conf, c, "registry.")) {
		s->reg = prev->reg;
		s->reg->refs++;
		return 0;
	}
	s->reg = xcalloc(1, sizeof(*s->reg));
	s->reg->refs = 1;
	if ((s->reg->registry = registry_new(base, &c->registry, clock, why,
	    sizeof(why))) == NULL) {
		snprintf(err, errlen, "%s: registry: %s", c->file, why);
		return -1;
	}
	return 0;
}

struct snapshot *
snapshot_new(struct event_base *base, struct conf *c,
    const struct snapshot *prev, const struct clock *clock, size_t *live,
    char *err, size_t errlen)
{
	struct snapshot	*s;
	const char	*used;
	char		 why[512];

	s = xcalloc(1, sizeof(*s));
	s->refs = 1;
	s->conf = c;
	if (schema_formats_parse(c->schema_formats, &s->schema_opts.formats,
	    why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: validation.formats: %s", c->file,
		    why);
		goto fail;
	}
	/* A registry-only process validates nothing. */
	if (c->nparticipants > 0 &&
	    (s->schemas = proxy_load_schemas(c, &used, err, errlen)) == NULL)
		goto fail;
	if (snapshot_registry_for(s, base, prev, clock, err, errlen) == -1)
		goto fail;
	s->live = live;
	(*live)++;
	return s;
fail:
	regshare_unref(s->reg);
	schema_set_free(s->schemas);
	free(s);
	return NULL;
}

struct snapshot *
snapshot_ref(struct snapshot *s)
{
	s->refs++;
	return s;
}

void
snapshot_unref(struct snapshot *s)
{
	if (s == NULL || --s->refs > 0)
		return;
	(*s->live)--;
	regshare_unref(s->reg);
	schema_set_free(s->schemas);
	conf_free(s->conf);
	free(s);
}

struct conf *
snapshot_release_conf(struct snapshot *s)
{
	struct conf	*c = s->conf;

	s->conf = NULL;
	snapshot_unref(s);
	return c;
}

struct registry *
snapshot_registry(const struct snapshot *s)
{
	return s->reg != NULL ? s->reg->registry : NULL;
}
