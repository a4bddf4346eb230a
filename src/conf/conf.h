/*
 * conf.h - the becknd configuration file (YAML).
 *
 * conf_load() parses the file into a struct conf with every default filled
 * in, expands ${VAR} from the environment, and validates everything that
 * can be checked without the network: unknown keys, types, durations,
 * listeners, participant ids, key files and key pairs, and the bounds of
 * every duration, size and count.  Every error is one line
 * "file:line: reason" (only a file that cannot be opened has no line).
 * The caller owns the struct; conf_free() releases it and wipes key
 * material.
 *
 * The key table in conf.c (conf_keys[]) is the single list of accepted
 * keys, with their bounds and whether SIGHUP may change them;
 * conf_key_names(), conf_key_reloadable() and conf_key_range() expose it
 * so that documentation can be checked against the code.
 */
#ifndef BECKND_CONF_H
#define BECKND_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "beckn/beckn_action.h"
#include "registry/registry.h"
#include "sig/sig_key.h"
#include "util/log.h"

/* Room for the line of every key of the table (checked in conf.c). */
#define CONF_KEYS_MAX	96

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
	/* Line of each participant key, by table position; 0 when unset. */
	int		 key_lines[CONF_KEYS_MAX];
};

struct conf {
	char		*file;

	/* listen: host:port strings, NULL when not listening. */
	char		*listen_network;
	char		*listen_client;
	char		*listen_registry;
	int		 client_allow_remote;	/* listen.client off loopback */
	char		*client_token;		/* bearer token it requires */
	char		*listen_admin;		/* the admin API */
	char		*admin_token;		/* bearer token it requires */

	/* store: the journal, outbox and replay state (SQLite). */
	char		*store_path;	/* NULL: store off or not set */
	int		 store_off;	/* "store: off" */
	int		 store_line;	/* of "store: off" */
	char		*store_sync;	/* normal | full */
	char		*store_bodies;	/* all | none */
	int64_t		 store_retention_ms;	/* 0: off (keep all) */
	size_t		 store_max_size;	/* bytes; 0: no limit */

	/* telemetry: ONEST network telemetry (src/telemetry). */
	char		*telemetry_url;		/* NULL: off */
	size_t		 telemetry_batch_size;	/* events */
	size_t		 telemetry_max_batch_bytes;
	int64_t		 telemetry_interval_ms;
	int64_t		 telemetry_timeout_ms;
	int64_t		 telemetry_retry_max_ms;
	size_t		 telemetry_spool_max;	/* events */
	char		**telemetry_props;	/* "key=path" */
	size_t		 ntelemetry_props;

	struct registry_conf registry;

	char		**schemas;
	size_t		 nschemas;
	char		*schema_formats;	/* assert | ignore | list */

	/* security: */
	int64_t		 clock_skew_ms;
	int64_t		 replay_window_ms;	/* 0: off (written "off") */
	int64_t		 signature_ttl_ms;	/* expires = created + ttl */
	int64_t		 max_signature_ttl_ms;	/* accepted expires - created */
	size_t		 replay_cache_size;	/* entries */
	size_t		 replay_sender_quota;	/* entries of one sender */

	/* limits: */
	size_t		 body_max;
	size_t		 header_max;
	int64_t		 read_timeout_ms;
	int		 max_connections;
	size_t		 memory_max;	/* bodies held, every request */
	int64_t		 idle_timeout_ms;	/* keep-alive wait */
	int		 max_connections_per_client; /* per address */
	size_t		 json_max_nodes;	/* values in one message body */

	/* delivery to webhooks and peers: */
	int64_t		 webhook_timeout_ms;
	int		 webhook_retries;
	int64_t		 webhook_backoff_ms;
	int64_t		 webhook_backoff_max_ms;
	size_t		 queue_size;
	int64_t		 upstream_timeout_ms;
	int64_t		 shutdown_timeout_ms;
	size_t		 queue_bytes;		/* per participant */
	int		 webhook_max_attempts;	/* 0: no limit */
	int64_t		 webhook_max_age_ms;
	int		 webhook_max_inflight;	/* per participant */
	size_t		 dead_letters;
	size_t		 dead_letter_bytes;

	enum log_level	 log_level;

	struct conf_participant *participants;
	size_t		 nparticipants;

	/* Line of each key, by table position; 0 when unset (default). */
	int		 key_lines[CONF_KEYS_MAX];
};

/* Parse and validate. NULL and "file:line: reason" in err on failure. */
struct conf	*conf_load(const char *path, char *err, size_t errlen);
void		 conf_free(struct conf *);

/*
 * The daemon keeps its participants' messages in store.path; a file with
 * participants must set it or say "store: off".  -1 and "file:line:
 * reason" when it does neither (other commands read such files fine).
 */
int		 conf_store_missing(const struct conf *, char *err,
		    size_t errlen);

/* NULL-terminated list of every dotted key the parser accepts. */
const char *const *conf_key_names(void);

/*
 * 1 when SIGHUP may change the key (name as conf_key_names() spells it),
 * 0 when a change needs a restart, -1 when there is no such key.
 */
int		 conf_key_reloadable(const char *name);

/*
 * The bounds of a duration, size or count key as errors and becknd(8)
 * spell them ("10ms to 1h", "1KiB to 1GiB", "0 to 100") into buf.  0, or
 * -1 (buf untouched) for an unknown key or one without bounds.
 */
int		 conf_key_range(const char *name, char *buf, size_t len);

/*
 * Before applying nw on SIGHUP: the name of the first key that needs a
 * restart (conf_key_reloadable() == 0) whose value differs between old
 * and nw, with *line (when line is not NULL) its line in nw's file, 0
 * when nw does not set it.  NULL when nw may be applied by a reload.
 */
const char	*conf_restart_key(const struct conf *old, const struct conf *nw,
		    int *line);

/*
 * 1 when every key whose dotted name starts with prefix ("registry.",
 * "limits.", "participants", "" for all) has the same value in a and b,
 * else 0; a prefix naming no key gives 1.  Values compare by type: strings
 * and paths byte-wise (NULL only equals NULL), lists entry by entry,
 * numbers, booleans and enumerations by value.  Participant keys compare
 * participant by participant, and a different number of participants is
 * a difference for any prefix matching a participant key.  Values compare
 * as configured, not the files they name (schemas, registry.file), except
 * the private key: it also compares by the key loaded, so a rotated key
 * file is a difference.
 */
int		 conf_keys_equal(const struct conf *a, const struct conf *b,
		    const char *prefix);

#endif
