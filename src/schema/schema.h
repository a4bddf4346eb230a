/*
 * schema.h - JSON Schema / OpenAPI validation of Beckn messages.
 *
 * Contract
 *
 *   Load once, validate many.  schema_set_load() reads every spec file
 *   (OpenAPI 3.0 or 3.1 in YAML or JSON), resolves all $refs and compiles
 *   the requestBody schema of each `POST /{action}` into a validator tree.
 *   Nothing is compiled lazily: a set that loaded is complete and
 *   read-only, so one set may be shared by threads.
 *
 *   Validation walks the caller's parsed json-c value once.  It never
 *   allocates on the success path and never modifies the value; on failure
 *   it writes into the caller's fixed-capacity struct schema_errors.  The
 *   only per-thread state is one PCRE2 match block per thread, created on
 *   the first `pattern` match of that thread (schema_thread_done() frees
 *   it).
 *
 *   Ownership: the set owns its documents, compiled nodes and regexes;
 *   schema_set_free() releases all of it.  The caller owns body, opts and
 *   errors.
 *
 * Selection (schema_validate_action)
 *
 *   A spec file *covers* a message by context.domain and context.version:
 *
 *   - A spec without x-beckn-domains in its info object is a core spec.
 *     The core specs of a set (e.g. transaction.yaml and meta.yaml) form
 *     one group covering every domain at the MAJOR.MINOR of the highest
 *     core info.version (1.1.0 -> every 1.1.x message; meta.yaml says
 *     1.0.0 but is published with core 1.1.0).
 *   - A layer spec declares info.x-beckn-domains (list; a trailing "*" is
 *     a prefix match, "onest:*") and optionally info.x-beckn-versions
 *     (list of MAJOR.MINOR or exact versions; default: MAJOR.MINOR of its
 *     info.version).
 *
 *   A message must be valid against every covering spec that defines the
 *   action.  No covering spec: keyword "spec".  Covered, but no covering
 *   spec defines the action: keyword "action".  Both are plain errors
 *   (return -1), which the daemon turns into a NACK.
 *
 * References: JSON pointers, files relative to the referring document,
 * and the JSON Schema draft-04 meta-schema by its URI
 * (http[s]://json-schema.org/draft-04/schema[#...]), which is built in;
 * nothing is ever fetched.
 *
 * Dialects: OpenAPI 3.0 (siblings of $ref ignored, nullable honoured,
 * boolean exclusiveMinimum/Maximum), OpenAPI 3.1 (siblings of $ref
 * applied, numeric exclusive bounds) and plain JSON Schema (draft-4 rules
 * plus const, nullable and numeric exclusive bounds).
 */
#ifndef BECKND_SCHEMA_H
#define BECKND_SCHEMA_H

#include <stddef.h>
#include <json-c/json.h>

/* Formats (schema_opts.formats bit mask). */
#define SCHEMA_FMT_DATE_TIME	0x0001
#define SCHEMA_FMT_DATE		0x0002
#define SCHEMA_FMT_TIME		0x0004
#define SCHEMA_FMT_UUID		0x0008
#define SCHEMA_FMT_URI		0x0010
#define SCHEMA_FMT_URI_REF	0x0020
#define SCHEMA_FMT_EMAIL	0x0040
#define SCHEMA_FMT_IPV4		0x0080
#define SCHEMA_FMT_IPV6		0x0100
#define SCHEMA_FMT_ALL		0x01ff
/* The default: placeholder URLs in published examples stay acceptable. */
#define SCHEMA_FMT_DEFAULT	(SCHEMA_FMT_UUID | SCHEMA_FMT_DATE_TIME | \
				 SCHEMA_FMT_DATE | SCHEMA_FMT_EMAIL)

/*
 * schema_opts.flags.  SCHEMA_OPT_ANY_VERSION ignores context.version: the
 * core specs apply to a message of any version (the action alone picks
 * the schema), layer specs still only to their domains.  For the official
 * files and messages older than the loaded core.
 */
#define SCHEMA_OPT_ANY_VERSION	0x0001

struct schema_opts {
	unsigned	formats;	/* SCHEMA_FMT_* asserted */
	unsigned	flags;		/* SCHEMA_OPT_* */
};

#define SCHEMA_ERRORS_MAX	20
#define SCHEMA_PATH_LEN		256
#define SCHEMA_KEYWORD_LEN	24
#define SCHEMA_MESSAGE_LEN	200

struct schema_error {
	char		path[SCHEMA_PATH_LEN];		/* JSON pointer */
	char		keyword[SCHEMA_KEYWORD_LEN];
	char		message[SCHEMA_MESSAGE_LEN];
	/* document position, for ordering (internal) */
	unsigned	pos[16];
	unsigned	npos;
};

struct schema_errors {
	size_t			n;		/* entries used */
	int			truncated;	/* more errors existed */
	struct schema_error	e[SCHEMA_ERRORS_MAX];	/* document order */
};

struct schema_set;

/*
 * Load and compile spec files.  kind is SCHEMA_LOAD_OPENAPI (each file an
 * OpenAPI document) or SCHEMA_LOAD_JSON_SCHEMA (exactly one plain JSON
 * Schema file, validated with schema_validate_json()).  On failure returns
 * NULL and writes "file:line: reason" into err.
 */
#define SCHEMA_LOAD_OPENAPI	0
#define SCHEMA_LOAD_JSON_SCHEMA	1
struct schema_set	*schema_set_load(const char *const *files, size_t nfiles,
			    int kind, char *err, size_t errlen);
/* Same, for one in-memory document (name is used in messages and to
 * resolve relative file refs). */
struct schema_set	*schema_set_load_mem(const char *name, const char *buf,
			    size_t len, int kind, char *err, size_t errlen);
void			 schema_set_free(struct schema_set *);

/*
 * The default schemas, compiled into the binary from schemas/ at build
 * time: core 1.1.0 (transaction.yaml, meta.yaml) and the ONEST layer
 * (onest-policy.yaml).  Compiled anew on each call, like schema_set_load();
 * error messages name the documents "builtin:core/transaction.yaml" etc.
 */
struct schema_set	*schema_set_load_builtin(char *err, size_t errlen);
/* What schema_set_load_builtin() loads, in words (for -t and logs). */
const char		*schema_builtin_name(void);

/* 1 when some loaded spec has `POST /action`. */
int	schema_set_has_action(const struct schema_set *, const char *action);

/*
 * Validate a Beckn message.  action NULL takes context.action.  Returns 0
 * when valid; -1 with errs filled (n >= 1) when not.  opts NULL means
 * default formats and selection by domain/version.
 */
int	schema_validate_action(const struct schema_set *, const char *action,
	    const json_object *body, const struct schema_opts *,
	    struct schema_errors *);
/* Validate a value against a set loaded with SCHEMA_LOAD_JSON_SCHEMA. */
int	schema_validate_json(const struct schema_set *,
	    const json_object *value, const struct schema_opts *,
	    struct schema_errors *);

/*
 * Parse a formats setting: "assert" (all known), "ignore" (none) or a
 * comma-separated list of format names.  Returns 0, or -1 with a message
 * naming the bad item in err.
 */
int	schema_formats_parse(const char *, unsigned *mask, char *err,
	    size_t errlen);

/* The errors as a JSON array [{"path","keyword","message"}] (new ref). */
json_object	*schema_errors_json(const struct schema_errors *);

/* Free this thread's PCRE2 match block (optional; at thread exit). */
void	schema_thread_done(void);

#endif
