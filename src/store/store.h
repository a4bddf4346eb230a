/* TEMPORARY stand-in of the planned API (replaced by the real header). */
#ifndef BECKND_STORE_H
#define BECKND_STORE_H
#include <stddef.h>
#include <stdint.h>
struct event_base;
struct store;
struct store_op;
enum store_sync { STORE_SYNC_NORMAL, STORE_SYNC_FULL };
enum store_bodies { STORE_BODIES_ALL, STORE_BODIES_NONE };
struct store_conf {
	const char *path; enum store_sync sync; enum store_bodies bodies;
	int64_t retention_ms; uint64_t max_size;
};
struct store *store_open(const struct store_conf *, char *err, size_t errlen);
int  store_check(const struct store_conf *, char *err, size_t errlen);
int  store_replay_load(struct store *, int64_t now_ms,
    int (*cb)(const void *key, size_t len, const char *owner, int64_t expires_ms,
    void *arg), void *arg, char *err, size_t errlen);
struct store_pending {
	const char *delivery_id, *participant, *webhook, *action, *sender,
	    *message_id, *transaction_id;
	const char *body; size_t len; int attempts;
};
int  store_outbox_load(struct store *, int (*cb)(const struct store_pending *,
    void *), void *arg, char *err, size_t errlen);
int  store_start(struct store *, struct event_base *, char *err, size_t errlen);
void store_set_requeue_cb(struct store *, void (*cb)(const struct store_pending *,
    void *), void *arg);
void store_reconfigure(struct store *, const struct store_conf *);
void store_close(struct store *);
struct store_replay_key { const void *key; size_t len; int64_t expires_ms; };
struct store_msg {
	const char *direction, *participant, *role, *peer, *action, *domain,
	    *transaction_id, *message_id, *order_id, *state_code;
	int http_status;  const char *ack, *error_code, *error_message;
	int64_t start_ms, end_ms;
	const char *delivery_id, *webhook, *sender;
	const char *body; size_t len;
	const char *replay_owner;
	const struct store_replay_key *keys; size_t nkeys;
};
typedef void (*store_done_cb)(int ok, const char *reason, void *arg);
struct store_op *store_put(struct store *, const struct store_msg *,
    store_done_cb, void *arg);
void store_op_cancel(struct store_op *);
void store_delivery(struct store *, const char *delivery_id, const char *state,
    int attempts, const char *last_error, int64_t at_ms);
struct store_stats { uint64_t commits, records, failures; size_t queued; };
void store_stats(const struct store *, struct store_stats *);
#endif
