/*
 * schema_doc.c - read a spec file (YAML or JSON) into a json-c tree.
 *
 * YAML goes through the libyaml document API; every mapping and sequence
 * keeps its 1-based source line as json-c userdata so that load errors can
 * name it.  Plain scalars are resolved like YAML 1.1 (PyYAML safe_load):
 * null, booleans (yes/no/on/off too), decimal and hex integers, floats with
 * a dot; everything quoted is a string.  Aliases share the json-c object
 * (reference counted), so alias bombs cost nothing; a recursive alias is
 * an error.  JSON (first non-blank byte '{' or '[') goes through json-c
 * with UTF-8 validation.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "schema/schema_int.h"
#include "util/readfile.h"
#include "util/xmalloc.h"

#define YAML_MAX_DEPTH	512
#define DOC_MAX_SIZE	(64 * 1024 * 1024)

struct yconv {
	yaml_document_t	 *doc;
	json_object	**memo;		/* per node index */
	char		 *busy;
	int		  nnodes;
	const char	 *path;
	char		 *err;
	size_t		  errlen;
};

static void
set_line(json_object *o, size_t line)
{
	json_object_set_userdata(o, (void *)(uintptr_t)(line + 1), NULL);
}

static int
yaml_match(const char *s, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

static json_object *
yaml_plain(const char *s, size_t len)
{
	static const char *const nulls[] = { "~", "null", "Null", "NULL",
	    NULL };
	static const char *const trues[] = { "true", "True", "TRUE", "yes",
	    "Yes", "YES", "on", "On", "ON", NULL };
	static const char *const falses[] = { "false", "False", "FALSE", "no",
	    "No", "NO", "off", "Off", "OFF", NULL };
	char		 buf[64], *end;
	const char	*p;
	size_t		 i, n;
	int		 dot = 0, digits = 0, exp = 0;

	if (len == 0 || yaml_match(s, nulls))
		return NULL;
	if (yaml_match(s, trues))
		return json_object_new_boolean(1);
	if (yaml_match(s, falses))
		return json_object_new_boolean(0);
	if (strlen(s) != len || len >= sizeof(buf))
		return json_object_new_string_len(s, (int)len);

	/* numbers: copy without '_' separators */
	for (i = n = 0; i < len; i++)
		if (s[i] != '_')
			buf[n++] = s[i];
	buf[n] = '\0';
	p = buf;
	if (*p == '+' || *p == '-')
		p++;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && p[2] != '\0') {
		for (i = 2; p[i] != '\0'; i++)
			if (!isxdigit((unsigned char)p[i]))
				goto string;
		errno = 0;
		long long v = strtoll(buf, &end, 16);
		if (errno == 0 && *end == '\0')
			return json_object_new_int64(v);
		goto string;
	}
	if (strcmp(p, ".inf") == 0 || strcmp(p, ".Inf") == 0 ||
	    strcmp(p, ".INF") == 0)
		return json_object_new_double(buf[0] == '-' ? -INFINITY :
		    INFINITY);
	for (; *p != '\0'; p++) {
		if (isdigit((unsigned char)*p) && !exp)
			digits++;
		else if (*p == '.' && !dot && !exp)
			dot = 1;
		else if ((*p == 'e' || *p == 'E') && dot && digits && !exp &&
		    (p[1] == '+' || p[1] == '-') &&
		    isdigit((unsigned char)p[2])) {
			exp = 1;
			p += 2;
			while (isdigit((unsigned char)p[1]))
				p++;
		} else
			goto string;
	}
	if (digits == 0)
		goto string;
	errno = 0;
	if (!dot) {
		long long v = strtoll(buf, &end, 10);
		if (errno == 0 && *end == '\0')
			return json_object_new_int64(v);
	}
	{
		double d = strtod(buf, &end);
		if (*end == '\0')
			return json_object_new_double(d);
	}
string:
	return json_object_new_string_len(s, (int)len);
}

static int
yconv_fail(struct yconv *c, size_t line, const char *what)
{
	snprintf(c->err, c->errlen, "%s:%zu: %s", c->path, line + 1, what);
	return -1;
}

static int
yconv_node(struct yconv *c, int id, int depth, json_object **out)
{
	yaml_node_t		*n = yaml_document_get_node(c->doc, id);
	yaml_node_item_t	*it;
	yaml_node_pair_t	*pr;
	json_object		*o = NULL, *child;
	yaml_node_t		*k;
	char			 why[96];

	*out = NULL;
	if (n == NULL)
		return yconv_fail(c, 0, "dangling YAML node");
	if (depth > YAML_MAX_DEPTH)
		return yconv_fail(c, n->start_mark.line, "nesting too deep");
	if (c->memo[id - 1] != NULL) {
		*out = json_object_get(c->memo[id - 1]);
		return 0;
	}
	if (c->busy[id - 1])
		return yconv_fail(c, n->start_mark.line, "recursive alias");

	switch (n->type) {
	case YAML_SCALAR_NODE:
		if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
			o = yaml_plain((char *)n->data.scalar.value,
			    n->data.scalar.length);
		else
			o = json_object_new_string_len(
			    (char *)n->data.scalar.value,
			    (int)n->data.scalar.length);
		*out = o;
		return 0;
	case YAML_SEQUENCE_NODE:
		c->busy[id - 1] = 1;
		o = json_object_new_array();
		set_line(o, n->start_mark.line);
		for (it = n->data.sequence.items.start;
		    it < n->data.sequence.items.top; it++) {
			if (yconv_node(c, *it, depth + 1, &child) == -1)
				goto fail;
			json_object_array_add(o, child);
		}
		break;
	case YAML_MAPPING_NODE:
		c->busy[id - 1] = 1;
		o = json_object_new_object();
		set_line(o, n->start_mark.line);
		for (pr = n->data.mapping.pairs.start;
		    pr < n->data.mapping.pairs.top; pr++) {
			k = yaml_document_get_node(c->doc, pr->key);
			if (k == NULL || k->type != YAML_SCALAR_NODE) {
				yconv_fail(c, k != NULL ? k->start_mark.line :
				    n->start_mark.line, "mapping key is not "
				    "a scalar");
				goto fail;
			}
			if (strlen((char *)k->data.scalar.value) !=
			    k->data.scalar.length) {
				yconv_fail(c, k->start_mark.line,
				    "NUL byte in mapping key");
				goto fail;
			}
			/*
			 * YAML keys are unique.  A repeated one would also
			 * free the first value while an anchor inside it is
			 * still remembered for later aliases (memo[]).
			 */
			if (json_object_object_get_ex(o,
			    (char *)k->data.scalar.value, NULL)) {
				snprintf(why, sizeof(why), "duplicate mapping "
				    "key \"%.64s\"", k->data.scalar.value);
				yconv_fail(c, k->start_mark.line, why);
				goto fail;
			}
			if (yconv_node(c, pr->value, depth + 1, &child) == -1)
				goto fail;
			json_object_object_add(o,
			    (char *)k->data.scalar.value, child);
		}
		break;
	default:
		return yconv_fail(c, n->start_mark.line, "empty YAML node");
	}
	c->busy[id - 1] = 0;
	c->memo[id - 1] = o;
	*out = o;
	return 0;
fail:
	c->busy[id - 1] = 0;
	json_object_put(o);
	return -1;
}

static size_t
line_at(const char *buf, size_t off)
{
	size_t	 i, line = 1;

	for (i = 0; i < off; i++)
		if (buf[i] == '\n')
			line++;
	return line;
}

static json_object *
parse_yaml(const char *path, const char *buf, size_t len, char *err,
    size_t errlen)
{
	yaml_parser_t	 parser;
	yaml_document_t	 doc, extra;
	struct yconv	 c;
	json_object	*root = NULL;
	int		 ok, have_doc = 0;

	memset(&c, 0, sizeof(c));
	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, errlen, "%s:0: cannot initialise YAML parser",
		    path);
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		/* reader errors (bad UTF-8) carry an offset, not a mark */
		snprintf(err, errlen, "%s:%zu: %s%s%s", path,
		    parser.error == YAML_READER_ERROR ?
		    line_at(buf, parser.problem_offset < len ?
		    parser.problem_offset : len) :
		    parser.problem_mark.line + 1,
		    parser.problem != NULL ? parser.problem : "YAML error",
		    parser.context != NULL ? " " : "",
		    parser.context != NULL ? parser.context : "");
		goto done;
	}
	have_doc = 1;
	if (yaml_document_get_root_node(&doc) == NULL) {
		snprintf(err, errlen, "%s:1: empty document", path);
		goto done;
	}
	/* A second document is an error, not silently ignored. */
	ok = yaml_parser_load(&parser, &extra);
	if (!ok) {
		snprintf(err, errlen, "%s:%zu: %s", path,
		    parser.problem_mark.line + 1,
		    parser.problem != NULL ? parser.problem : "YAML error");
		goto done;
	}
	if (yaml_document_get_root_node(&extra) != NULL) {
		snprintf(err, errlen, "%s:%zu: more than one YAML document",
		    path, extra.start_mark.line + 1);
		yaml_document_delete(&extra);
		goto done;
	}
	yaml_document_delete(&extra);

	c.doc = &doc;
	c.nnodes = (int)(doc.nodes.top - doc.nodes.start);
	c.memo = xcalloc((size_t)c.nnodes, sizeof(*c.memo));
	c.busy = xcalloc((size_t)c.nnodes, 1);
	c.path = path;
	c.err = err;
	c.errlen = errlen;
	if (yconv_node(&c, 1, 0, &root) == -1)
		root = NULL;
	else if (!json_object_is_type(root, json_type_object) &&
	    !json_object_is_type(root, json_type_boolean)) {
		snprintf(err, errlen, "%s:1: document is not a mapping", path);
		json_object_put(root);
		root = NULL;
	}
done:
	free(c.memo);
	free(c.busy);
	if (have_doc)
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return root;
}

static json_object *
parse_json(const char *path, const char *buf, size_t len, char *err,
    size_t errlen)
{
	json_tokener		*tok;
	json_object		*root;
	enum json_tokener_error	 jerr;
	size_t			 end;

	if (len > INT_MAX) {
		snprintf(err, errlen, "%s:0: file too large", path);
		return NULL;
	}
	tok = json_tokener_new_ex(256);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (root == NULL || jerr != json_tokener_success) {
		if (jerr == json_tokener_continue)
			snprintf(err, errlen, "%s:%zu: unexpected end of "
			    "JSON", path, line_at(buf, len));
		else
			snprintf(err, errlen, "%s:%zu: %s", path,
			    line_at(buf, end), json_tokener_error_desc(jerr));
		json_object_put(root);
		root = NULL;
		goto done;
	}
	for (; end < len; end++)
		if (!isspace((unsigned char)buf[end])) {
			snprintf(err, errlen, "%s:%zu: trailing data after "
			    "JSON value", path, line_at(buf, end));
			json_object_put(root);
			root = NULL;
			goto done;
		}
	if (!json_object_is_type(root, json_type_object) &&
	    !json_object_is_type(root, json_type_boolean)) {
		snprintf(err, errlen, "%s:1: document is not an object", path);
		json_object_put(root);
		root = NULL;
	}
done:
	json_tokener_free(tok);
	return root;
}

struct sdoc *
sdoc_parse(const char *path, const char *buf, size_t len, char *err,
    size_t errlen)
{
	struct sdoc	*d;
	json_object	*root;
	size_t		 i;
	int		 yaml = 1;

	for (i = 0; i < len && isspace((unsigned char)buf[i]); i++)
		;
	if (i < len && (buf[i] == '{' || buf[i] == '['))
		yaml = 0;
	if (memchr(buf, '\0', len) != NULL) {
		snprintf(err, errlen, "%s:%zu: NUL byte in document", path,
		    line_at(buf, (size_t)((const char *)memchr(buf, '\0', len) -
		    buf)));
		return NULL;
	}
	root = yaml ? parse_yaml(path, buf, len, err, errlen) :
	    parse_json(path, buf, len, err, errlen);
	if (root == NULL)
		return NULL;
	d = xcalloc(1, sizeof(*d));
	d->path = xstrdup(path);
	d->text = xmalloc(len + 1);
	memcpy(d->text, buf, len);
	d->text[len] = '\0';
	d->textlen = len;
	d->root = root;
	d->yaml = yaml;
	return d;
}

/*
 * Load a file once per set (documents are looked up by path).  A
 * "builtin:" name is one of the documents compiled into the binary and
 * never a file, so refs relative to a built-in document stay built in.
 */
struct sdoc *
sdoc_load(struct schema_set *set, const char *path, char *err, size_t errlen)
{
	const struct sbuiltin	*b;
	struct sdoc		*d;
	char			*buf;
	size_t			 len;

	for (d = set->docs; d != NULL; d = d->next)
		if (strcmp(d->path, path) == 0)
			return d;
	if (strncmp(path, SBUILTIN_PREFIX, strlen(SBUILTIN_PREFIX)) == 0) {
		if ((b = sbuiltin_find(path)) == NULL) {
			snprintf(err, errlen, "%s:0: no such built-in "
			    "document", path);
			return NULL;
		}
		d = sdoc_parse(path, (const char *)b->data, b->len, err,
		    errlen);
	} else {
		if ((buf = read_file(path, DOC_MAX_SIZE, &len)) == NULL) {
			snprintf(err, errlen, "%s:0: %s", path, errno == EFBIG ?
			    "file too large" : strerror(errno));
			return NULL;
		}
		d = sdoc_parse(path, buf, len, err, errlen);
		free(buf);
	}
	if (d == NULL)
		return NULL;
	d->next = set->docs;
	set->docs = d;
	return d;
}

void
sdoc_free(struct sdoc *d)
{
	if (d == NULL)
		return;
	json_object_put(d->root);
	free(d->text);
	free(d->path);
	free(d);
}

/*
 * The 1-based line of o: its YAML mark, else the first line of the raw
 * text holding hint (a $ref string, say), else 0.
 */
int
sdoc_line(const struct sdoc *d, json_object *o, const char *hint)
{
	const char	*p;
	void		*u;

	if (o != NULL && d != NULL && d->yaml &&
	    (json_object_is_type(o, json_type_object) ||
	    json_object_is_type(o, json_type_array)) &&
	    (u = json_object_get_userdata(o)) != NULL)
		return (int)(uintptr_t)u;
	if (d != NULL && d->text != NULL && hint != NULL && *hint != '\0' &&
	    (p = strstr(d->text, hint)) != NULL)
		return (int)line_at(d->text, (size_t)(p - d->text));
	return 0;
}
