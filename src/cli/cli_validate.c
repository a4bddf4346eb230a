/*
 * cli_validate.c - `becknd validate` (schema module).
 *
 *   becknd validate [--spec FILE [--spec FILE...]] [--action ACTION]
 *       [--any-version] [--formats assert|ignore|LIST] < body
 *   becknd validate --json-schema FILE [--formats ...] < instance
 *
 * Without --spec the built-in schemas (core 1.1.0 + ONEST layer) are
 * used, as by the daemon without `schemas:`.  Exit 0 and {"valid":true};
 * exit 1 and {"valid":false,"errors":[...]} (also when stdin is not JSON:
 * keyword "json"); exit 2 and "file:line: reason" on stderr when a spec
 * cannot be used, or a usage message.  Scripts rely on these bytes.
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

static int
json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * The input as one JSON value (NULL and err empty for the literal null).
 * json-c cannot know that a value ending the input is complete ("25"
 * may go on "256", "true" may be followed by junk), so the end of input is
 * fed to it as one NUL byte, its end-of-data mark.  A NUL inside the
 * input is refused first: JSON text never holds one, and json-c would
 * take it for that mark.
 */
static json_object *
parse_body(const char *buf, size_t len, char *err, size_t errlen)
{
	json_tokener		*tok = NULL;
	json_object		*v = NULL;
	enum json_tokener_error	 jerr;
	const char		*nul;
	size_t			 end;

	if ((nul = memchr(buf, '\0', len)) != NULL) {
		snprintf(err, errlen, "input is not JSON: NUL at byte %zu",
		    (size_t)(nul - buf));
		goto done;
	}
	tok = json_tokener_new_ex(128);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	v = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue) {
		/* all of buf was taken: the value may end with the input */
		v = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		end = len;
	}
	if (jerr != json_tokener_success) {
		snprintf(err, errlen, "input is not JSON: %s at byte %zu",
		    jerr == json_tokener_continue ||
		    jerr == json_tokener_error_parse_eof ? "unexpected end" :
		    json_tokener_error_desc(jerr), end);
		json_object_put(v);
		v = NULL;
		goto done;
	}
	for (; end < len; end++)
		if (!json_space(buf[end])) {
			snprintf(err, errlen, "input is not JSON: trailing "
			    "data at byte %zu", end);
			json_object_put(v);
			v = NULL;
			break;
		}
done:
	if (tok != NULL)
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
		{ "any-version", no_argument, NULL, 'v' },
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
		case 'v':
			sopts.flags |= SCHEMA_OPT_ANY_VERSION;
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
	if (optind != argc || (jschema != NULL && (nspecs > 0 ||
	    action != NULL || sopts.flags != 0)) ||
	    (action != NULL && *action == '\0'))
		goto usage;

	if (jschema != NULL)
		set = schema_set_load(&jschema, 1, SCHEMA_LOAD_JSON_SCHEMA, err,
		    sizeof(err));
	else if (nspecs > 0)
		set = schema_set_load(specs, nspecs, SCHEMA_LOAD_OPENAPI, err,
		    sizeof(err));
	else
		set = schema_set_load_builtin(err, sizeof(err));
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
	fprintf(stderr, "usage: becknd validate [--spec FILE...] "
	    "[--action ACTION] [--any-version]\n"
	    "           [--formats assert|ignore|LIST] < body\n"
	    "       becknd validate --json-schema FILE [--formats ...] "
	    "< instance\n");
	return 2;
}
