/*
 * registry_file.h - the file registry: a JSON file holding the same
 * subscriber array a registry's /lookup answers with.
 *
 * Internal to src/registry.  Reading the file is blocking I/O: it happens
 * in registry_new() and registry_reload() only (start-up and SIGHUP).
 */
#ifndef BECKND_REGISTRY_FILE_H
#define BECKND_REGISTRY_FILE_H

#include <stddef.h>

#include "registry/registry_record.h"

/* Largest file accepted. */
#define REGISTRY_FILE_MAX	(64 << 20)

/* The records of path (refcnt 1), or NULL and "path: reason" in err. */
struct registry_recset	*registry_file_load(const char *path, char *err,
			    size_t errlen);

#endif
