/*
 * store_db.c - open, recognise and migrate the journal database
 * (see store_db.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "store/store_db.h"

/*
 * Schema version 1.  One row per message the participant sent ('out') or
 * received ('in'); a received message that is delivered to the
 * participant's webhook carries its outbox state (delivery_*): the outbox
 * is the set of rows whose delivery_state is 'queued' or 'requeue'.
 * replay holds the replay-cache keys of accepted messages until they
 * expire, so that a restart does not forget them.  It is written, and
 * read back whole at start, but never searched by key (the memory cache
 * does that): no index on the key, whose random bytes would make every
 * insert touch a random page (it halved the store's throughput); a key
 * written twice (re-armed) is loaded twice, harmlessly.
 */
static const char schema_v1[] =
	"CREATE TABLE messages("
	" id INTEGER PRIMARY KEY,"
	" direction TEXT NOT NULL,"
	" participant TEXT NOT NULL,"
	" role TEXT,"
	" peer TEXT,"
	" action TEXT NOT NULL,"
	" domain TEXT,"
	" transaction_id TEXT,"
	" message_id TEXT,"
	" order_id TEXT,"
	" state_code TEXT,"
	" http_status INTEGER,"
	" ack TEXT,"
	" error_code TEXT,"
	" error_message TEXT,"
	" start_ms INTEGER NOT NULL,"
	" end_ms INTEGER,"
	" delivery_id TEXT UNIQUE,"
	" webhook TEXT,"
	" sender TEXT,"
	" delivery_state TEXT,"
	" attempts INTEGER NOT NULL DEFAULT 0,"
	" last_error TEXT,"
	" delivered_ms INTEGER,"
	" body BLOB);"
	"CREATE INDEX messages_txn ON messages(transaction_id);"
	"CREATE INDEX messages_msg ON messages(message_id);"
	"CREATE INDEX messages_order ON messages(order_id);"
	"CREATE INDEX messages_start ON messages(start_ms);"
	"CREATE INDEX messages_outbox ON messages(delivery_state)"
	" WHERE delivery_state IN ('queued','requeue');"
	"CREATE TABLE replay("
	" id INTEGER PRIMARY KEY,"
	" key BLOB NOT NULL,"
	" owner TEXT,"
	" expires_ms INTEGER NOT NULL);"
	"CREATE INDEX replay_expires ON replay(expires_ms);";

/*
 * Schema version 2: the telemetry spool (store.h, store_tel_*).  Events
 * are kept as text under the caller's seq; a tel_batch row seals the
 * events first..last into one batch, so that a restart resends the same
 * batches (same bodies, same ids).  Both tables stay small (the sink
 * accepts batches and they are deleted) and are read whole at start:
 * no index beyond the keys.
 */
static const char schema_v2[] =
	"CREATE TABLE tel_event("
	" seq INTEGER PRIMARY KEY,"
	" event TEXT NOT NULL);"
	"CREATE TABLE tel_batch("
	" first INTEGER PRIMARY KEY,"
	" last INTEGER NOT NULL);";

/* migrations[v] brings version v to v + 1. */
static const char *const migrations[STORE_VERSION] = {
	schema_v1,
	schema_v2,
};

static int
fail(sqlite3 *db, const char *path, const char *what, char *err,
    size_t errlen)
{
	snprintf(err, errlen, "%s: %s%s%s", path, what,
	    db != NULL ? ": " : "", db != NULL ? sqlite3_errmsg(db) : "");
	return -1;
}

/* A PRAGMA or query answering one integer; -1 on failure. */
static int
int_query(sqlite3 *db, const char *sql, long long *out)
{
	sqlite3_stmt	*st = NULL;
	int		 rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

static int
migrate(sqlite3 *db, const char *path, long long from, char *err,
    size_t errlen)
{
	char		 sql[128];
	long long	 v;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return fail(db, path, "cannot start the schema migration",
		    err, errlen);
	for (v = from; v < STORE_VERSION; v++)
		if (sqlite3_exec(db, migrations[v], NULL, NULL, NULL) !=
		    SQLITE_OK)
			goto bad;
	snprintf(sql, sizeof(sql), "PRAGMA application_id = %d;"
	    "PRAGMA user_version = %d", STORE_APP_ID, STORE_VERSION);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto bad;
	return 0;
bad:
	fail(db, path, "schema migration failed", err, errlen);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

sqlite3 *
store_db_open(const char *path, enum store_db_mode mode, const char *sync,
    char *err, size_t errlen)
{
	sqlite3		*db = NULL;
	long long	 app = 0, version = 0, tables = 0;
	char		 sql[64];
	int		 flags;

	flags = mode == STORE_DB_READ ? SQLITE_OPEN_READONLY :
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	if (sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		fail(db, path, "cannot open", err, errlen);
		goto bad;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, STORE_BUSY_MS);
	/* The first read of the header tells a foreign or corrupt file. */
	if (int_query(db, "SELECT count(*) FROM sqlite_schema", &tables) < 0 ||
	    int_query(db, "PRAGMA application_id", &app) < 0 ||
	    int_query(db, "PRAGMA user_version", &version) < 0) {
		fail(db, path, "not a becknd store", err, errlen);
		goto bad;
	}
	if (app != STORE_APP_ID && (app != 0 || tables != 0)) {
		snprintf(err, errlen, "%s: not a becknd store (another "
		    "application's database: application_id %lld, %lld "
		    "tables)", path, app, tables);
		goto bad;
	}
	if (version > STORE_VERSION) {
		snprintf(err, errlen, "%s: written by a newer becknd (schema "
		    "version %lld, this one knows up to %d)", path, version,
		    STORE_VERSION);
		goto bad;
	}
	if (mode == STORE_DB_READ) {
		if (version < STORE_VERSION) {
			snprintf(err, errlen, "%s: %s (schema version %lld; "
			    "the daemon upgrades it when it starts)", path,
			    tables == 0 ? "an empty database, not yet a "
			    "becknd store" : "an older store", version);
			goto bad;
		}
		return db;
	}
	if (sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		fail(db, path, "cannot use WAL", err, errlen);
		goto bad;
	}
	if (sync != NULL) {
		snprintf(sql, sizeof(sql), "PRAGMA synchronous = %s", sync);
		if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
			fail(db, path, "cannot set synchronous", err, errlen);
			goto bad;
		}
	}
	if (version < STORE_VERSION && migrate(db, path, version, err,
	    errlen) < 0)
		goto bad;
	/* A quick check of the pages we will use first. */
	if (int_query(db, "SELECT count(*) FROM messages", &tables) < 0) {
		fail(db, path, "unreadable store", err, errlen);
		goto bad;
	}
	return db;
bad:
	sqlite3_close_v2(db);
	return NULL;
}

void
store_db_close(sqlite3 *db)
{
	if (db != NULL)
		sqlite3_close_v2(db);
}
