/*
 * proxy_journal.c - the adaptor's side of the durable store (store.path):
 * what is recorded about each message, and what a start rebuilds from it.
 *
 *   start     the replay keys still live go back into the replay cache,
 *             every message ACKed but not yet delivered back into its
 *             participant's delivery queue (same Idempotency-Key), then
 *             the writer thread starts
 *   inbound   an accepted message is recorded (raw bytes, verified
 *             sender, ids, replay keys, outbox state) and ACKed only once
 *             that record is committed (proxy_inbound.c waits for it); a
 *             refused message whose signature verified is recorded
 *             without waiting, with its NACK
 *   outbound  each message sent to a peer (a gateway's forwards too),
 *             with the peer's answer
 *   delivery  every attempt's outcome updates the message's row; dead
 *             letters stay in the store (not in memory) until
 *             `becknd journal redeliver` asks for them again, which the
 *             store hands back here
 *
 * With store: off every function here does nothing and px->store is NULL.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/proxy_int.h"
#include "replay/replay.h"
#include "store/store.h"
#include "util/json.h"
#include "util/log.h"
#include "util/xmalloc.h"

static void
store_conf_of(const struct conf *c, struct store_conf *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->path = c->store_path;
	sc->sync = strcmp(c->store_sync, "full") == 0 ? STORE_SYNC_FULL :
	    STORE_SYNC_NORMAL;
	sc->bodies = strcmp(c->store_bodies, "none") == 0 ?
	    STORE_BODIES_NONE : STORE_BODIES_ALL;
	sc->retention_ms = c->store_retention_ms;
	sc->max_size = c->store_max_size;
}

int
proxy_check_store(const struct conf *c, char *err, size_t errlen)
{
	struct store_conf	 sc;

	if (c->store_path == NULL)
		return 0;
	store_conf_of(c, &sc);
	return store_check(&sc, err, errlen);
}

static int
replay_load_cb(const void *key, size_t len, const char *owner,
    int64_t expires_ms, void *arg)
{
	struct proxy		*px = arg;
	struct replay_key	 k;

	k.key = key;
	k.len = len;
	k.expires_at_ms = expires_ms;
	/* Over the limits (they were lowered): the entry is forgotten. */
	if (replay_commit(px->replay, owner, owner != NULL ? strlen(owner) :
	    0, &k, 1) != REPLAY_NEW && replay_check(px->replay, key, len) !=
	    REPLAY_SEEN)
		px->journal_replay_lost++;
	else
		px->journal_replay_loaded++;
	return 0;
}

static void
pending_msg(const struct store_pending *sp, struct deliver_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->participant = sp->participant;
	m->webhook = sp->webhook;
	m->action = sp->action;
	m->sender = sp->sender;
	m->message_id = sp->message_id;
	m->transaction_id = sp->transaction_id;
	m->len = sp->len;
}

static void
restore(struct proxy *px, const struct store_pending *sp, int attempts)
{
	struct deliver_msg	 m;
	char			*body = NULL;

	pending_msg(sp, &m);
	if (sp->len > 0) {
		body = xmalloc(sp->len);
		memcpy(body, sp->body, sp->len);
	}
	deliver_restore(px->deliver, &m, sp->delivery_id, attempts, body,
	    sp->len);
}

static int
outbox_load_cb(const struct store_pending *sp, void *arg)
{
	struct proxy	*px = arg;

	restore(px, sp, sp->attempts);
	px->journal_outbox_loaded++;
	return 0;
}

/* `becknd journal redeliver`: a dead letter queued again. */
static void
requeue_cb(const struct store_pending *sp, void *arg)
{
	struct proxy	*px = arg;

	log_info("journal: %s %s (message_id %s) queued again for %s "
	    "(Idempotency-Key %s)", sp->participant, sp->action,
	    sp->message_id != NULL ? sp->message_id : "-", sp->webhook,
	    sp->delivery_id);
	px->stats.deliver.redelivered++;
	restore(px, sp, 0);
}

static void
report_cb(const struct deliver_report *r, void *arg)
{
	struct proxy	*px = arg;
	const char	*state;

	/* An attempt that ended (a letter given up by age made none). */
	if (r->outcome != DELIVER_DEAD && r->elapsed_ns > 0)
		observe_stage(px, OBS_DELIVERY, r->elapsed_ns);
	if (px->store == NULL)
		return;
	switch (r->outcome) {
	case DELIVER_DELIVERED:
		state = "delivered";
		break;
	case DELIVER_REFUSED:
		state = "refused";
		break;
	case DELIVER_DEAD:
		state = "dead";
		break;
	case DELIVER_RETRY:
	default:
		state = "queued";
		break;
	}
	store_delivery(px->store, r->id, state, r->attempts, r->reason,
	    clock_now_ms(px->clock));
}

int
journal_open(struct proxy *px, const struct conf *c, char *err,
    size_t errlen)
{
	struct store_conf	 sc;

	if (c->store_path == NULL) {
		/* Dead letters are kept in memory; telemetry spools there. */
		deliver_set_reporter(px->deliver, report_cb, px, 1);
		return observe_telemetry_open(px, c, err, errlen);
	}
	store_conf_of(c, &sc);
	if ((px->store = store_open(&sc, err, errlen)) == NULL)
		return -1;
	/* The telemetry spool loads before the writer starts. */
	if (store_replay_load(px->store, clock_now_ms(px->clock),
	    replay_load_cb, px, err, errlen) == -1 ||
	    store_outbox_load(px->store, outbox_load_cb, px, err, errlen) ==
	    -1 || observe_telemetry_open(px, c, err, errlen) == -1 ||
	    store_start(px->store, px->base, err, errlen) == -1)
		return -1;
	store_set_requeue_cb(px->store, requeue_cb, px);
	/* Dead letters are kept by the store, not in memory. */
	deliver_set_reporter(px->deliver, report_cb, px, 0);
	log_info("store: %s: %zu replay key%s and %zu undelivered message%s "
	    "loaded%s", c->store_path, px->journal_replay_loaded,
	    px->journal_replay_loaded == 1 ? "" : "s",
	    px->journal_outbox_loaded,
	    px->journal_outbox_loaded == 1 ? "" : "s",
	    px->journal_replay_lost > 0 ? " (replay keys over "
	    "security.replay_cache_size or replay_sender_quota were "
	    "dropped)" : "");
	return 0;
}

void
journal_reconfigure(struct proxy *px, const struct conf *c)
{
	struct store_conf	 sc;

	observe_reconfigure(px, c);
	if (px->store == NULL)
		return;
	store_conf_of(c, &sc);
	store_reconfigure(px->store, &sc);
}

void
journal_close(struct proxy *px)
{
	/* Its open batch is sealed into the store, which then writes it. */
	observe_telemetry_close(px);
	store_close(px->store);
	px->store = NULL;
}

void
journal_ids(struct store_msg *m, json_object *body)
{
	json_object	*ctx = NULL, *msg = NULL, *order = NULL, *fs, *f, *o;

	if (body == NULL)
		return;
	if (json_object_object_get_ex(body, "context", &ctx)) {
		m->domain = json_str(ctx, "domain");
		m->transaction_id = json_str(ctx, "transaction_id");
		m->message_id = json_str(ctx, "message_id");
	}
	if (!json_object_object_get_ex(body, "message", &msg) ||
	    !json_object_object_get_ex(msg, "order", &order))
		return;
	m->order_id = json_str(order, "id");
	/* The first fulfillment's state: the application's status. */
	if (json_object_object_get_ex(order, "fulfillments", &fs) &&
	    json_object_is_type(fs, json_type_array) &&
	    json_object_array_length(fs) > 0 &&
	    (f = json_object_array_get_idx(fs, 0)) != NULL &&
	    json_object_object_get_ex(f, "state", &o) &&
	    json_object_object_get_ex(o, "descriptor", &o))
		m->state_code = json_str(o, "code");
}
