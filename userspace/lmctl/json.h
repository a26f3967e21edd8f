/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal streaming JSON writer for lmctl's -j output.
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

void json_init(struct json *j, FILE *out);
void json_object_begin(struct json *j, const char *key);
void json_object_end(struct json *j);
void json_array_begin(struct json *j, const char *key);
void json_array_end(struct json *j);
void json_string(struct json *j, const char *key, const char *value);
void json_u64(struct json *j, const char *key, uint64_t value);
void json_bool(struct json *j, const char *key, bool value);

#endif /* LMCTL_JSON_H */
