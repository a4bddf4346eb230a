/*
 * registry_file.c - load the file registry.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry_file.h"
#include "util/xmalloc.h"

struct registry_recset *
registry_file_load(const char *path, char *err, size_t errlen)
{
	struct registry_recset	*s = NULL;
	FILE			*f;
	char			*buf = NULL, why[160];
	size_t			 len = 0, cap = 0, n;

	if ((f = fopen(path, "rb")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (cap - len < 65536) {
			cap = cap == 0 ? 65536 : cap * 2;
			buf = xrealloc(buf, cap + 1);
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (len > REGISTRY_FILE_MAX) {
			snprintf(err, errlen, "%s: larger than %d bytes", path,
			    REGISTRY_FILE_MAX);
			goto done;
		}
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		goto done;
	}
	buf[len] = '\0';
	if ((s = registry_recset_parse(buf, len, path, why, sizeof(why))) ==
	    NULL)
		snprintf(err, errlen, "%s: %s", path, why);
done:
	fclose(f);
	free(buf);
	return s;
}
