/*
 * registry_file.h - the file registry: a JSON file holding the same
 * subscriber array a registry's /lookup answers with.
 *
 * Internal to src/registry; the loader itself is public as
 * registry_records_load() (registry.h), so that the /lookup server reads
 * files exactly as the client does.  Reading the file is blocking I/O: it
 * happens at start-up and on SIGHUP only.
 */
#ifndef BECKND_REGISTRY_FILE_H
#define BECKND_REGISTRY_FILE_H

#include "registry/registry_record.h"

/* Largest file accepted. */
#define REGISTRY_FILE_MAX	(64 << 20)

#endif
