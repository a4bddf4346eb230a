/*
 * cli_daemon.c - `becknd -c FILE [-t]`: check the configuration, or run
 * the adaptor until SIGTERM.
 *
 * Signals: SIGTERM/SIGINT stop accepting, finish what is in flight and
 * drain the delivery queue (up to delivery.shutdown_timeout), then exit;
 * SIGHUP re-reads the configuration, keys, schemas and registry file and
 * applies all of it without dropping connections, or none of it: a broken
 * file, or a change to a key that needs a restart, is logged in one line
 * and the running configuration kept; SIGPIPE is ignored.
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cli/cli.h"
#include "conf/conf.h"
#include "proxy/proxy.h"
#include "schema/schema.h"
#include "util/log.h"
#include "util/xevent.h"
#include "util/xmalloc.h"

#define DRAIN_POLL_MS	50

struct daemon {
	struct event_base	*base;
	struct proxy		*px;
	const char		*path;
	struct event		*drain;
	int64_t			 drain_left_ms;
};

static int
check_only(const char *path)
{
	struct conf		*c;
	struct schema_set	*s;
	const char		*used;
	char			 err[1024];
	unsigned		 formats;
	size_t			 i;

	if ((c = conf_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (schema_formats_parse(c->schema_formats, &formats, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "%s: validation.formats: %s\n", path, err);
		conf_free(c);
		return 1;
	}
	if (c->nparticipants > 0) {
		if ((s = proxy_load_schemas(c, &used, err, sizeof(err))) ==
		    NULL) {
			fprintf(stderr, "%s\n", err);
			conf_free(c);
			return 1;
		}
		schema_set_free(s);
		printf("%s: schemas: %s\n", path, used);
		for (i = 0; i < c->nschemas; i++)
			printf("%s: schema %s\n", path, c->schemas[i]);
	}
	if (conf_store_missing(c, err, sizeof(err)) == -1 ||
	    proxy_check_store(c, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		conf_free(c);
		return 1;
	}
	if (c->store_path != NULL)
		printf("%s: store %s\n", path, c->store_path);
	conf_free(c);
	printf("%s: ok\n", path);
	return 0;
}

static void
drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon	*d = arg;
	struct timeval	 tv = { 0, DRAIN_POLL_MS * 1000 };

	if (proxy_idle(d->px)) {
		log_info("stopped: nothing left in flight");
		event_base_loopbreak(d->base);
		return;
	}
	if ((d->drain_left_ms -= DRAIN_POLL_MS) <= 0) {
		log_warn("stopped: shutdown timeout with work still in flight");
		event_base_loopbreak(d->base);
		return;
	}
	evtimer_add(d->drain, &tv);
}

static void
stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon	*d = arg;

	if (d->drain != NULL) {
		log_warn("second stop signal: exiting now");
		event_base_loopbreak(d->base);
		return;
	}
	d->drain_left_ms = proxy_conf(d->px)->shutdown_timeout_ms;
	log_info("signal %d: stopping (draining for up to %lld ms)", (int)sig,
	    (long long)d->drain_left_ms);
	proxy_stop_accepting(d->px);
	d->drain = xevtimer_new(d->base, drain_cb, d);
	drain_cb(-1, 0, d);
}

static void
hup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon	*d = arg;
	struct conf	*c;
	char		 err[1024];

	if ((c = conf_load(d->path, err, sizeof(err))) == NULL) {
		log_error("reload failed, keeping the running configuration: "
		    "%s", err);
		return;
	}
	if (proxy_reload(d->px, c, err, sizeof(err)) == -1) {
		log_error("reload failed, keeping the running configuration: "
		    "%s", err);
		conf_free(c);
		return;
	}
	log_set_level(c->log_level);
	log_info("reloaded %s", d->path);
}

int
cli_daemon(int argc, char **argv)
{
	struct daemon	 d;
	struct event	*sigs[3];
	struct conf	*c;
	const char	*path = NULL;
	char		 err[1024];
	int		 ch, test = 0, i;

	optind = 1;
	while ((ch = getopt(argc, argv, "c:t")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 't':
			test = 1;
			break;
		default:
			goto usage;
		}
	}
	if (path == NULL || optind != argc)
		goto usage;
	if (test)
		return check_only(path);

	if ((c = conf_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (conf_store_missing(c, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		conf_free(c);
		return 1;
	}
	log_set_level(c->log_level);
	signal(SIGPIPE, SIG_IGN);
	memset(&d, 0, sizeof(d));
	d.path = path;
	if ((d.base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	/*
	 * Before the start, which may take a while (a large outbox to
	 * reload): a signal then waits for the loop instead of killing the
	 * process by its default action.
	 */
	sigs[0] = evsignal_new(d.base, SIGTERM, stop_cb, &d);
	sigs[1] = evsignal_new(d.base, SIGINT, stop_cb, &d);
	sigs[2] = evsignal_new(d.base, SIGHUP, hup_cb, &d);
	for (i = 0; i < 3; i++)
		if (sigs[i] == NULL || evsignal_add(sigs[i], NULL) == -1)
			fatalx("cannot install signal handlers");
	if ((d.px = proxy_new(d.base, c, NULL, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		conf_free(c);
		for (i = 0; i < 3; i++)
			event_free(sigs[i]);
		event_base_free(d.base);
		return 1;
	}
	log_info("becknd %s started with %s (%zu participant%s)",
	    PACKAGE_VERSION, path, c->nparticipants,
	    c->nparticipants == 1 ? "" : "s");
	event_base_dispatch(d.base);

	for (i = 0; i < 3; i++)
		event_free(sigs[i]);
	if (d.drain != NULL)
		event_free(d.drain);
	proxy_free(d.px);
	event_base_free(d.base);
	return 0;
usage:
	fprintf(stderr, "usage: becknd -c CONFIG [-t]\n");
	return 2;
}
