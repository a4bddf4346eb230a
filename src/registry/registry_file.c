/*
 * registry_file.c - load the file registry.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry_file.h"
#include "util/readfile.h"
#include "util/xmalloc.h"

struct registry_recset *
registry_records_load(const char *path, char *err, size_t errlen)
{
	struct registry_recset	*s = NULL;
	char			*buf, why[160];
	size_t			 len;

	if ((buf = read_file(path, REGISTRY_FILE_MAX, &len)) == NULL) {
		if (errno == EFBIG)
			snprintf(err, errlen, "%s: larger than %d bytes", path,
			    REGISTRY_FILE_MAX);
		else
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((s = registry_recset_parse(buf, len, path, why, sizeof(why))) ==
	    NULL)
		snprintf(err, errlen, "%s: %s", path, why);
	free(buf);
	return s;
}
