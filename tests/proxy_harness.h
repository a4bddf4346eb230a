/*
 * proxy_harness.h - an in-process world for the adaptor's pipelines.
 *
 * Everything runs in ONE event loop on 127.0.0.1: the proxies under test
 * (struct proxy from conf_load() + proxy_new()), stub webhooks and peers
 * (evhttp), an optional stub URL registry (evhttp), and the test's own
 * HTTP client (raw bufferevents, so that any bytes and headers can be
 * sent).  Time is a manual clock shared by the proxies and the signing
 * helpers: signatures' created/expires, registry validity and replay
 * windows move when the test moves it.  Network waits are real time and
 * always bounded (ph_wait(), ph_run_until()); each test also has an
 * alarm() watchdog.
 *
 * Ownership: everything the harness hands out (parties, records, proxies,
 * stubs, calls, strings, JSON) belongs to the world and is freed by
 * ph_teardown(), also after a failed assertion (Check runs the checked
 * teardown in no-fork mode too), so a failing test leaks nothing.
 *
 * Participants and registry records:
 *   - ph_party() makes an identity with a fresh ed25519 key pair; its
 *     subscriber_url is http://127.0.0.1:9<path> until a proxy hosting it
 *     knows its port (ph_proxy_fix_urls()).
 *   - ph_register() adds a registry record for it (type, domain; status
 *     SUBSCRIBED, valid 2024..2030); ph_registry_write() writes every
 *     record to the world's registry file (and the stub URL registry
 *     serves the same records).
 */
#ifndef BECKND_PROXY_HARNESS_H
#define BECKND_PROXY_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct bufferevent;
struct event_base;
struct evbuffer;
struct proxy;
struct sig_key;

#define PH_DOMAIN	"onest:learning-experiences"
#define PH_T0_MS	1772442900000LL		/* 2026-03-02T09:15:00Z */
#define PH_ACK_BODY	"{\"message\":{\"ack\":{\"status\":\"ACK\"}}}"

/* ---- the world ---------------------------------------------------- */

/* Checked fixture: loop, clock at PH_T0_MS, temp folder, watchdog. */
void		 ph_setup(void);
void		 ph_teardown(void);

struct event_base *ph_base(void);
int64_t		 ph_now_ms(void);
void		 ph_advance(int64_t ms);	/* move the manual clock */
/* Real-time wait budget: ms, scaled up under valgrind. */
int		 ph_ms(int ms);
/* Run the loop until cond(arg) is true or ms (real time) passed. */
int		 ph_run_until(int (*cond)(void *), void *arg, int ms);
void		 ph_run_for(int ms);
/* Run the loop briefly: what is already on its way arrives. */
void		 ph_settle(void);
/* A path in the world's temp folder (world-owned string). */
const char	*ph_path(const char *name);
/* printf into a world-owned string. */
char		*ph_fmt(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
/* Keep p / a JSON reference until teardown. */
void		*ph_keep(void *p);
json_object	*ph_keep_json(json_object *);

/* ---- identities and the registry ------------------------------------ */

struct ph_party {
	char		 sid[256];
	char		 kid[64];
	char		 path[64];	/* "/bap": its subscriber_url's path */
	char		 url[256];	/* subscriber_url, as registered */
	struct sig_key	*key;
	char		 pub[45];	/* base64 raw public key */
	char		 priv[89];	/* base64 seed || public */
};

struct ph_rec {
	struct ph_party	*party;
	char		 type[32];	/* "" = no type field */
	char		 domain[64];	/* "" = no domain field */
	char		 status[32];	/* "" = no status field */
	char		 valid_from[40];
	char		 valid_until[40];
};

/* path may be NULL: "/" + the first label of sid. */
struct ph_party	*ph_party(const char *sid, const char *path);
/* A fresh key pair, under a new key id ("k2", "k3", ...) or the same. */
void		 ph_party_rotate(struct ph_party *, int new_kid);
struct ph_rec	*ph_register(struct ph_party *, const char *type,
		    const char *domain);
void		 ph_registry_write(void);
const char	*ph_registry_file(void);

/*
 * The stub URL registry (POST /lookup, filtering like a real one).
 *   PH_REG_RECORDS    answers with the matching records
 *   PH_REG_500        answers every lookup 500
 *   PH_REG_CLOSED     does not listen
 *   PH_REG_HOLD       holds every lookup until ph_registry_release()
 *   PH_REG_LISTS_500  answers key lookups, 500 to list lookups (by type)
 */
enum ph_reg_mode { PH_REG_RECORDS, PH_REG_500, PH_REG_CLOSED, PH_REG_HOLD,
    PH_REG_LISTS_500 };
const char	*ph_registry_serve(void);	/* start it; its base URL */
void		 ph_registry_mode(enum ph_reg_mode);
int		 ph_registry_requests(void);
/* Lookups held now (PH_REG_HOLD); answer them with the records (the mode
 * stays). */
int		 ph_registry_held(void);
void		 ph_registry_release(void);

/* ---- stub HTTP servers: webhooks and peers -------------------------- */

struct ph_req {
	char		 method[16];
	char		 uri[512];
	char		**hdr;		/* name, value, name, value, ... */
	size_t		 nhdr;
	char		*body;
	size_t		 len;
	json_object	*json;		/* NULL when the body is not JSON */
};

struct ph_stub;

/* Answers 200 PH_ACK_BODY until told otherwise. */
struct ph_stub	*ph_stub(const char *name);
const char	*ph_stub_url(const struct ph_stub *);	/* http://127.0.0.1:P */
int		 ph_stub_port(const struct ph_stub *);
/* From now on answer status + body; status 0 holds every request until
 * ph_stub_release(). */
void		 ph_stub_answer(struct ph_stub *, int status, const char *body);
/* Answer the held requests with status + body (and keep answering so). */
void		 ph_stub_release(struct ph_stub *, int status,
		    const char *body);
int		 ph_stub_count(const struct ph_stub *);
int		 ph_stub_held(const struct ph_stub *);
struct ph_req	*ph_stub_req(const struct ph_stub *, int i);
/* Run the loop until the stub has n requests or ms passed; the count. */
int		 ph_stub_wait(struct ph_stub *, int n, int ms);
const char	*ph_req_header(const struct ph_req *, const char *name);
/* A port on 127.0.0.1 where nothing listens. */
int		 ph_dead_port(void);

/* ---- proxies -------------------------------------------------------- */

struct ph_proxy;

/* A configuration to be: listeners on 127.0.0.1:0, the world's registry
 * file, the project's schemas, quiet logs, fast delivery retries. */
struct ph_proxy	*ph_proxy(const char *name);
/* Host party: role "bap", "bpp" or "gateway"; webhook may be NULL (the
 * gateway); domains NULL = PH_DOMAIN, "" = none. */
void		 ph_host(struct ph_proxy *, struct ph_party *, const char *role,
		    struct ph_stub *webhook, const char *domains);
/* Set "section.key" (YAML value as written); NULL removes it. */
void		 ph_set(struct ph_proxy *, const char *key, const char *value);
/* Only write the configuration file (for tests calling conf_load()). */
void		 ph_write_conf(struct ph_proxy *);
/* Schemas: NULL = no `schemas` key (the built-in set); else one file
 * (the default is the project's core + ONEST files). */
void		 ph_schemas(struct ph_proxy *, const char *file);
/* Write the file, conf_load() and proxy_new() (asserts success). */
void		 ph_start(struct ph_proxy *);
/* proxy_free() now, whatever is in flight (as at exit). */
void		 ph_stop(struct ph_proxy *);
/* Write the file again and proxy_reload() it: 0, or -1 with err set. */
int		 ph_reload(struct ph_proxy *, char *err, size_t errlen);
/* Point the hosted parties' subscriber_urls (conf and registry) at the
 * proxy's real network port, write the registry and reload. */
void		 ph_fix_urls(struct ph_proxy *);
struct proxy	*ph_px(const struct ph_proxy *);
int		 ph_net(const struct ph_proxy *);
int		 ph_client(const struct ph_proxy *);
const char	*ph_conf_path(const struct ph_proxy *);
/* Run the loop until proxy_idle() or ms passed; 1 when idle. */
int		 ph_idle(struct ph_proxy *, int ms);

/* ---- the durable store (store.path) and the admin listener ---------- */

/*
 * A proxy runs with the store off unless ph_store() is called: no store
 * key is written (proxy_new() does not require one; the daemon does).
 * ph_store(): store.path = the world's folder/file (NULL: "<name>.db");
 * the file outlives ph_stop(), so ph_start() again is a restart on it.
 * Returns the path (the proxy's; ph_store_path() tells it, NULL when
 * off).
 */
const char	*ph_store(struct ph_proxy *, const char *file);
const char	*ph_store_path(const struct ph_proxy *);
/* listen.admin on 127.0.0.1:0; the port once started (-1: none). */
void		 ph_admin(struct ph_proxy *);
int		 ph_admin_port(const struct ph_proxy *);
/*
 * The journal as `becknd journal` and the admin API read it: a read-only
 * store_reader, store_query_messages() with bodies, every row (up to
 * STORE_LIMIT_MAX) matching query, a URL query as the API takes
 * ("message=ID&direction=in&status=delivered"; NULL: all).  The
 * "messages" array, world-owned; a failed read fails the test.
 */
json_object	*ph_journal(const struct ph_proxy *, const char *query);
/*
 * The same once at least n rows match, running the loop meanwhile (what
 * is written without anyone waiting -- NACKs, sent messages, delivery
 * progress -- lands shortly after), or after ms (real time, scaled under
 * valgrind): the rows then.
 */
json_object	*ph_journal_wait(const struct ph_proxy *, const char *query,
		    int n, int ms);

/* ---- messages and signatures ---------------------------------------- */

/*
 * The blackbox fixture body of action with a fresh context: domain
 * PH_DOMAIN, version 1.1.0, bap_id/bap_uri from bap, bpp_id/bpp_uri from
 * bpp (either may be NULL: fields left out), new transaction_id and
 * message_id, timestamp from the clock, ttl PT30S.  World-owned.
 */
json_object	*ph_msg(const char *action, const struct ph_party *bap,
		    const struct ph_party *bpp);
/* Set (value NULL: remove) a context field. */
void		 ph_ctx_set(json_object *msg, const char *key,
		    const char *value);
const char	*ph_ctx(json_object *msg, const char *key);
/* Compact wire bytes ("/" unescaped), world-owned. */
const char	*ph_wire(json_object *msg);
/* Replace the first occurrence of from by to in s (world-owned copy). */
char		*ph_replace(const char *s, const char *from, const char *to);

/* "Signature keyId=..." over body by party, created = now + created_s,
 * expires = created + ttl_s (world-owned). */
const char	*ph_sign(const struct ph_party *, const char *body,
		    int64_t created_s, int64_t ttl_s);
/* Over len bytes (a NUL inside allowed). */
const char	*ph_sign_bytes(const struct ph_party *, const char *body,
		    size_t len, int64_t created_s, int64_t ttl_s);
/* Same with any key and ids. */
const char	*ph_sign_key(const struct sig_key *, const char *sid,
		    const char *kid, const char *body, int64_t created_s,
		    int64_t ttl_s);
/* Does auth (a header value) verify over body with party's key? */
int		 ph_verify(const struct ph_party *, const char *auth,
		    const char *body, size_t len);

/* ---- the test's HTTP client ---------------------------------------- */

struct ph_call {
	int		 done;		/* a whole answer arrived */
	int		 failed;	/* connection failed or closed early */
	char		 why[128];
	int		 status;
	char		*head;		/* status line + headers */
	char		*body;		/* NUL-terminated */
	size_t		 len;
	json_object	*json;		/* NULL when not JSON */
	/* internal */
	struct bufferevent *bev;
	struct evbuffer	*acc;
	size_t		 head_len;
	long		 clen;
	int		 port;
};

/*
 * Send method target (path + query) with body and headers (NULL-
 * terminated name/value pairs; may be NULL) on a fresh connection.
 * Content-Type application/json, Content-Length, Host and
 * Connection: close are added.  The async form returns at once.
 */
struct ph_call	*ph_call(int port, const char *method, const char *target,
		    const char *body, size_t len, const char *const *headers);
struct ph_call	*ph_call_async(int port, const char *method,
		    const char *target, const char *body, size_t len,
		    const char *const *headers);
/* Run the loop until the call finished or ms passed; done. */
int		 ph_call_wait(struct ph_call *, int ms);
const char	*ph_call_header(const struct ph_call *, const char *name);
/* Sign body as signer (now, 300 s) and POST it to the network listener. */
struct ph_call	*ph_send(struct ph_proxy *, const char *path, const char *body,
		    const struct ph_party *signer);
/* POST body unsigned to the client listener. */
struct ph_call	*ph_app(struct ph_proxy *, const char *target,
		    const char *body);
/* 'what the user saw': "401 NACK 30000 \"replayed: ...\" paths ...". */
const char	*ph_describe(const struct ph_call *);
/* error.<key> of a NACK, or NULL. */
const char	*ph_err(const struct ph_call *, const char *key);

/* ---- assertions naming the caller's line ---------------------------- */

void	ph_expect_ack_at(const char *, int, const struct ph_call *,
	    const char *what);
void	ph_expect_nack_at(const char *, int, const struct ph_call *,
	    int status, const char *code, const char *paths, const char *what);
void	ph_expect_challenge_at(const char *, int, const struct ph_call *,
	    const char *header, const char *realm, const char *what);
/* The stub got exactly n requests (waiting for n, then ph_settle()). */
void	ph_expect_count_at(const char *, int, struct ph_stub *, int n,
	    const char *what);
void	ph_fail_at(const char *, int, const char *, ...)
	    __attribute__((format(printf, 3, 4)));

/* 200 and message.ack.status ACK, no error. */
#define EXPECT_ACK(c, what)	ph_expect_ack_at(__FILE__, __LINE__, c, what)
/* status, NACK, error.code; paths: each comma-separated pointer must be
 * in error.paths (NULL: not checked). */
#define EXPECT_NACK(c, st, code, paths, what) \
	ph_expect_nack_at(__FILE__, __LINE__, c, st, code, paths, what)
/* header = Signature realm="<realm>",headers="(created) (expires) digest" */
#define EXPECT_CHALLENGE(c, hdr, realm, what) \
	ph_expect_challenge_at(__FILE__, __LINE__, c, hdr, realm, what)
#define EXPECT_COUNT(s, n, what) \
	ph_expect_count_at(__FILE__, __LINE__, s, n, what)
#define PH_FAIL(...)		ph_fail_at(__FILE__, __LINE__, __VA_ARGS__)

#endif
