/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal streaming JSON writer for lmctl's -j output (jw_*: jansson,
 * which reads QMP, has json_* names of its own).
 *
 * Members are written in order; the writer tracks nesting only to place
 * commas. @key is the member name inside an object and NULL inside an
 * array or at the top level. The document ends with a newline when the
 * outermost value is closed.
 */
#ifndef LMCTL_JSON_H
#define LMCTL_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

struct json {
	FILE *out;
	int depth;
	/* Whether the container at each depth already holds a member. */
	bool has_member[JSON_MAX_DEPTH];
};

void jw_init(struct json *j, FILE *out);
void jw_object_begin(struct json *j, const char *key);
void jw_object_end(struct json *j);
void jw_array_begin(struct json *j, const char *key);
void jw_array_end(struct json *j);
void jw_string(struct json *j, const char *key, const char *value);
void jw_u64(struct json *j, const char *key, uint64_t value);
void jw_bool(struct json *j, const char *key, bool value);

#endif /* LMCTL_JSON_H */
