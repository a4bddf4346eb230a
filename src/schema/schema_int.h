/*
 * schema_int.h - internals shared by the schema_*.c files.
 *
 * Who owns what: a struct schema_set owns a list of documents (struct
 * sdoc: the parsed json-c tree of each spec file and of each file reached
 * by an external $ref), a list of every compiled node (struct snode,
 * linked through all_next) and the specs (struct sspec) that map actions
 * to root nodes.  Nodes point into the documents (property names, enum
 * values), so documents live as long as the set.
 */
#ifndef BECKND_SCHEMA_INT_H
#define BECKND_SCHEMA_INT_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "schema/schema.h"

/* Instance type bits. */
#define ST_NULL		0x01
#define ST_BOOLEAN	0x02
#define ST_OBJECT	0x04
#define ST_ARRAY	0x08
#define ST_NUMBER	0x10
#define ST_STRING	0x20
#define ST_INTEGER	0x40

/* snode.flags */
#define SN_MIN		0x0001	/* minimum */
#define SN_MIN_EXCL	0x0002	/* exclusiveMinimum: true (draft-4/3.0) */
#define SN_MAX		0x0004
#define SN_MAX_EXCL	0x0008
#define SN_XMIN		0x0010	/* exclusiveMinimum: number (3.1) */
#define SN_XMAX		0x0020
#define SN_MULT		0x0040
#define SN_UNIQUE	0x0080
#define SN_NULLABLE	0x0100
#define SN_ADDP_FALSE	0x0200	/* additionalProperties: false */
#define SN_ADDI_FALSE	0x0400	/* additionalItems: false */
#define SN_CONST	0x0800
#define SN_FALSE	0x1000	/* the schema `false`: nothing is valid */
#define SN_TUPLE	0x2000	/* items is an array */

enum sdialect {
	DIALECT_OAS30 = 0,
	DIALECT_OAS31,
	DIALECT_JSONSCHEMA,
};

struct sdoc {
	char		*path;
	char		*text;		/* raw text, during load only */
	size_t		 textlen;
	json_object	*root;
	int		 dialect;
	int		 yaml;
	struct sdoc	*next;
};

struct sprop {
	const char	*name;
	struct snode	*node;
};

struct spat {
	pcre2_code	*re;
	const char	*src;
	struct snode	*node;
};

struct sdep {
	const char	 *name;
	const char	**req;
	size_t		  nreq;
	struct snode	 *schema;
};

struct snode {
	unsigned	 types;		/* ST_* allowed; 0 = any */
	unsigned	 flags;		/* SN_* */
	unsigned	 format;	/* SCHEMA_FMT_* bit, 0 = none/unknown */
	double		 min, max, xmin, xmax, mult;
	int64_t		 minlen, maxlen, minitems, maxitems, minprops, maxprops;

	struct sprop	*props;		/* sorted by name */
	size_t		 nprops;
	const char	**required;
	size_t		 nrequired;
	struct spat	*patprops;
	size_t		 npatprops;
	struct snode	*addprops;	/* additionalProperties schema */
	struct snode	*items;		/* items (one schema) */
	struct snode	**tuple;	/* items (array form) */
	size_t		 ntuple;
	struct snode	*additems;
	json_object	**enumv;
	size_t		 nenum;
	json_object	*constv;
	struct snode	**allof, **anyof, **oneof;
	size_t		 nallof, nanyof, noneof;
	struct snode	*not;
	struct snode	*ref;		/* $ref applied beside siblings (3.1) */
	pcre2_code	*pattern;
	const char	*pattern_src;
	struct sdep	*deps;
	size_t		 ndeps;

	/* compile bookkeeping */
	int		 mark;		/* cycle check */
	int		 line;
	struct sdoc	*doc;
	struct snode	*all_next;
};

struct sop {
	const char	*action;	/* points into the document */
	struct snode	*root;
};

struct sspec {
	char		 *file;
	int		  core;		/* no x-beckn-domains */
	char		**domains;
	size_t		  ndomains;
	char		**versions;	/* MAJOR.MINOR or exact */
	size_t		  nversions;
	char		 *info_version;
	struct sop	 *ops;		/* sorted by action */
	size_t		  nops;
};

struct schema_set {
	struct sdoc	 *docs;
	struct snode	 *nodes;
	struct sspec	 *specs;
	size_t		  nspecs;
	char		  core_mm[32];	/* MAJOR.MINOR covered by core specs */
	struct snode	 *root;		/* SCHEMA_LOAD_JSON_SCHEMA */
};

/*
 * A document compiled into the binary (schema_builtin_data.c, generated
 * from schemas/ by contrib/gen-builtin.sh).  Names are "builtin:" and the
 * path below schemas/; the table ends with a NULL name.
 */
#define SBUILTIN_PREFIX	"builtin:"
struct sbuiltin {
	const char		*name;
	const unsigned char	*data;
	size_t			 len;
};
extern const struct sbuiltin	sbuiltin_docs[];

/* schema_builtin.c */
const struct sbuiltin	*sbuiltin_find(const char *name);
const char		*sbuiltin_uri(const char *uri);

/* schema_doc.c */
struct sdoc	*sdoc_parse(const char *path, const char *buf, size_t len,
		    char *err, size_t errlen);
struct sdoc	*sdoc_load(struct schema_set *, const char *path, char *err,
		    size_t errlen);
void		 sdoc_free(struct sdoc *);
int		 sdoc_line(const struct sdoc *, json_object *, const char *hint);

/* schema_ref.c */
json_object	*sref_resolve(struct schema_set *, struct sdoc *doc,
		    const char *ref, struct sdoc **outdoc, char *err,
		    size_t errlen);
json_object	*sref_resolve_depth(struct schema_set *, struct sdoc *,
		    const char *ref, struct sdoc **outdoc, int depth,
		    char *err, size_t errlen);
json_object	*sref_pointer(struct schema_set *, struct sdoc *doc,
		    const char *ptr, struct sdoc **outdoc, int depth,
		    char *err, size_t errlen);

/* schema_compile.c */
struct scomp;
struct scomp	*scomp_new(struct schema_set *);
void		 scomp_free(struct scomp *);
struct snode	*scomp_node(struct scomp *, struct sdoc *, json_object *,
		    char *err, size_t errlen);
int		 scomp_check_cycles(struct scomp *, char *err, size_t errlen);
void		 snode_free_all(struct snode *);

/* schema_format.c */
unsigned	 sfmt_lookup(const char *name);
int		 sfmt_check(unsigned fmt, const char *s, size_t len);
const char	*sfmt_name(unsigned fmt);

/* schema_validate.c */
int		 sval_run(const struct snode *, json_object *,
		    const struct schema_opts *, struct schema_errors *,
		    const char *base);
int		 sval_json_equal(json_object *, json_object *);
int		 sre_match(const pcre2_code *, const char *, size_t);

/* schema_error.c */
void		 serr_add(struct schema_errors *, const char *path,
		    const unsigned *pos, unsigned npos, const char *keyword,
		    const char *fmt, ...)
		    __attribute__((format(printf, 6, 7)));
void		 serr_sort(struct schema_errors *);
void		 serr_value(char *buf, size_t len, json_object *);

#endif
