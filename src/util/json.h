/*
 * json.h - small json-c accessors shared by the modules.
 */
#ifndef BECKND_JSON_H
#define BECKND_JSON_H

#include <json-c/json.h>

/* The string member key of obj; NULL when obj is NULL, the member is
 * absent or it is not a string.  Borrowed from obj. */
const char	*json_str(json_object *obj, const char *key);

#endif
