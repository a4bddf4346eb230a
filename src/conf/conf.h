/*
 * conf.h - the becknd configuration file (YAML).
 *
 * conf_load() parses the file into a struct conf with every default filled
 * in, expands ${VAR} from the environment, and validates everything that
 * can be checked without the network: unknown keys, types, durations,
 * listeners, participant ids, key files and key pairs.  Every error is one
 * line "file:line: reason".  The caller owns the struct; conf_free()
 * releases it and wipes key material.
 *
 * The key table in conf.c (conf_keys[]) is the single list of accepted
 * keys; conf_key_names() exposes it so that documentation can be checked
 * against the code.
 */
#ifndef BECKND_CONF_H
#define BECKND_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "beckn/beckn_action.h"
#include "registry/registry.h"
#include "sig/sig_key.h"
#include "util/log.h"

struct conf_participant {
	char		*subscriber_id;
	char		*key_id;
	enum beckn_role	 role;
	char		*private_key_file;	/* NULL when given inline */
	char		*private_key;		/* inline text; wiped on free */
	struct sig_key	*key;			/* loaded by conf_load() */
	char		*subscriber_url;
	char		*path;		/* path of subscriber_url, no trailing / */
	char		*webhook;	/* may contain {action} */
	char		**domains;
	size_t		 ndomains;
	int		 line;		/* where the entry starts */
	int		 key_line;	/* where its private key is given */
};

struct conf {
	char		*file;

	/* listen: host:port strings, NULL when not listening. */
	char		*listen_network;
	char		*listen_client;
	char		*listen_registry;

	struct registry_conf registry;

	char		**schemas;
	size_t		 nschemas;
	char		*schema_formats;	/* assert | ignore | list */

	/* security: */
	int64_t		 clock_skew_ms;
	int64_t		 replay_window_ms;
	int64_t		 signature_ttl_ms;	/* expires = created + ttl */

	/* limits: */
	size_t		 body_max;
	size_t		 header_max;
	int64_t		 read_timeout_ms;
	int		 max_connections;

	/* delivery to webhooks and peers: */
	int64_t		 webhook_timeout_ms;
	int		 webhook_retries;
	int64_t		 webhook_backoff_ms;
	int64_t		 webhook_backoff_max_ms;
	size_t		 queue_size;
	int64_t		 upstream_timeout_ms;
	int64_t		 shutdown_timeout_ms;

	enum log_level	 log_level;

	struct conf_participant *participants;
	size_t		 nparticipants;
};

/* Parse and validate. NULL and "file:line: reason" in err on failure. */
struct conf	*conf_load(const char *path, char *err, size_t errlen);
void		 conf_free(struct conf *);

/* "host:port" or "[v6]:port"; host is xmalloc'd. 0 or -1. */
int		 conf_split_hostport(const char *, char **host, int *port);

/* NULL-terminated list of every dotted key the parser accepts. */
const char *const *conf_key_names(void);

#endif
