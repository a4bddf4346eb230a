/*
 * store_db.h - the journal database file: opening it, recognising it as
 * becknd's, and bringing its schema to the current version.
 *
 * Shared by the writer (store.c, the daemon) and the readers
 * (store_query.c: the CLI and the admin API).  The schema of each version
 * is stated once, in store_db.c; see README "Durable store" for what the
 * tables hold.
 *
 * A file is becknd's when its PRAGMA application_id is STORE_APP_ID, or
 * when it is empty (no tables: a new file, which a writer then creates).
 * Anything else fails with "PATH: reason" and is never touched:
 *   - not an SQLite database, or corrupt ("file is not a database",
 *     "database disk image is malformed", ...);
 *   - another application's database (tables but not our application_id);
 *   - a newer schema (user_version > STORE_VERSION): written by a newer
 *     becknd; downgrading would lose or misread data.
 * An older schema is migrated forward in one transaction by a writer; a
 * reader refuses it (the daemon migrates on its next start).
 */
#ifndef BECKND_STORE_DB_H
#define BECKND_STORE_DB_H

#include <stddef.h>

#include <sqlite3.h>

#define STORE_APP_ID	0x42434B44	/* "BCKD" */
#define STORE_VERSION	2

/* How long a connection waits for another's lock before SQLITE_BUSY. */
#define STORE_BUSY_MS	5000

enum store_db_mode {
	STORE_DB_READ,		/* read-only; the file must exist */
	STORE_DB_WRITE,		/* create when missing, migrate */
};

/*
 * Open path in mode, WAL journal, checked and (write mode) migrated as
 * described above.  sync: "NORMAL" or "FULL" (PRAGMA synchronous; NULL
 * leaves SQLite's default, for readers).  NULL and err on failure.
 */
sqlite3	*store_db_open(const char *path, enum store_db_mode, const char *sync,
	    char *err, size_t errlen);
/* sqlite3_close_v2(); NULL: nothing. */
void	 store_db_close(sqlite3 *);

#endif
