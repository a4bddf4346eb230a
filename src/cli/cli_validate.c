/*
 * cli_validate.c - `becknd validate` (schema module).
 *
 *   becknd validate --spec FILE [--spec FILE...] [--action ACTION]
 *       [--formats assert|ignore|LIST] < body
 *   becknd validate --json-schema FILE [--formats ...] < instance
 *
 * Exit 0 and {"valid":true}; exit 1 and {"valid":false,"errors":[...]}
 * (also when stdin is not JSON: keyword "json"); exit 2 and
 * "file:line: reason" on stderr when a spec cannot be used, or a usage
 * message.  Scripts rely on these bytes.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "schema/schema.h"
#include "util/xmalloc.h"

#define BODY_MAX	(16 * 1024 * 1024)
#define SPECS_MAX	32

static void
print_result(int valid, const struct schema_errors *errs)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "valid", json_object_new_boolean(valid));
	if (!valid)
		json_object_object_add(o, "errors", schema_errors_json(errs));
	printf("%s\n", json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static json_object *
parse_body(const char *buf, size_t len, char *err, size_t errlen)
{
	json_tokener		*tok = json_tokener_new_ex(128);
	json_object		*v;
	enum json_tokener_error	 jerr;
	size_t			 end;

	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	v = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (v == NULL && jerr == json_tokener_success)
		return NULL;	/* the literal null: still a value */
	if (jerr != json_tokener_success) {
		snprintf(err, errlen, "input is not JSON: %s at byte %zu",
		    jerr == json_tokener_continue ? "unexpected end" :
		    json_tokener_error_desc(jerr), end);
		json_object_put(v);
		v = NULL;
	} else {
		for (; end < len; end++)
			if (strchr(" \t\r\n", buf[end]) == NULL) {
				snprintf(err, errlen, "input is not JSON: "
				    "trailing data at byte %zu", end);
				json_object_put(v);
				v = NULL;
				break;
			}
	}
	json_tokener_free(tok);
	return v;
}

int
cli_validate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "spec", required_argument, NULL, 's' },
		{ "json-schema", required_argument, NULL, 'j' },
		{ "action", required_argument, NULL, 'a' },
		{ "formats", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 }
	};
	const char		*specs[SPECS_MAX], *jschema = NULL;
	const char		*action = NULL;
	size_t			 nspecs = 0, len;
	struct schema_opts	 sopts = { SCHEMA_FMT_DEFAULT, 0 };
	struct schema_set	*set = NULL;
	struct schema_errors	*errs = NULL;
	json_object		*body = NULL;
	char			 err[1024], *buf = NULL;
	int			 ch, rc = 2;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (nspecs == SPECS_MAX) {
				fprintf(stderr, "becknd validate: at most %d "
				    "--spec files\n", SPECS_MAX);
				return 2;
			}
			specs[nspecs++] = optarg;
			break;
		case 'j':
			if (jschema != NULL)
				goto usage;
			jschema = optarg;
			break;
		case 'a':
			action = optarg;
			break;
		case 'f':
			if (schema_formats_parse(optarg, &sopts.formats, err,
			    sizeof(err)) == -1) {
				fprintf(stderr, "becknd validate: %s\n", err);
				return 2;
			}
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc || (nspecs == 0) == (jschema == NULL) ||
	    (jschema != NULL && action != NULL) ||
	    (action != NULL && *action == '\0'))
		goto usage;

	if (jschema != NULL)
		set = schema_set_load(&jschema, 1, SCHEMA_LOAD_JSON_SCHEMA, err,
		    sizeof(err));
	else
		set = schema_set_load(specs, nspecs, SCHEMA_LOAD_OPENAPI, err,
		    sizeof(err));
	if (set == NULL) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	if ((buf = cli_read_stdin(BODY_MAX, &len)) == NULL) {
		fprintf(stderr, "becknd validate: cannot read stdin (or more "
		    "than %d bytes)\n", BODY_MAX);
		goto done;
	}
	errs = xcalloc(1, sizeof(*errs));
	err[0] = '\0';
	body = parse_body(buf, len, err, sizeof(err));
	if (err[0] != '\0') {
		errs->n = 1;
		snprintf(errs->e[0].path, sizeof(errs->e[0].path), "%s", "");
		snprintf(errs->e[0].keyword, sizeof(errs->e[0].keyword),
		    "json");
		snprintf(errs->e[0].message, sizeof(errs->e[0].message), "%s",
		    err);
		print_result(0, errs);
		rc = 1;
		goto done;
	}
	if (jschema != NULL)
		rc = schema_validate_json(set, body, &sopts, errs);
	else
		rc = schema_validate_action(set, action, body, &sopts, errs);
	print_result(rc == 0, errs);
	rc = rc == 0 ? 0 : 1;
done:
	json_object_put(body);
	free(buf);
	free(errs);
	schema_set_free(set);
	return rc;
usage:
	fprintf(stderr, "usage: becknd validate --spec FILE [--spec FILE...] "
	    "[--action ACTION]\n"
	    "           [--formats assert|ignore|LIST] < body\n"
	    "       becknd validate --json-schema FILE [--formats ...] "
	    "< instance\n");
	return 2;
}
