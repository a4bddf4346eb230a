/*
 * json.c - small json-c accessors.
 */
#include "config.h"

#include "util/json.h"

const char *
json_str(json_object *obj, const char *key)
{
	json_object	*v;

	if (obj == NULL || !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}
