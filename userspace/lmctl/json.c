// SPDX-License-Identifier: GPL-2.0
/*
 * JSON output. Strings are escaped per RFC 8259: quote, backslash and every
 * control character; other bytes pass through, so UTF-8 stays UTF-8.
 */
#include <inttypes.h>

#include "json.h"

void jw_init(struct json *j, FILE *out)
{
	j->out = out;
	j->depth = 0;
	j->has_member[0] = false;
}

static void json_write_string(FILE *out, const char *s)
{
	const unsigned char *p;

	fputc('"', out);
	for (p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\b':
			fputs("\\b", out);
			break;
		case '\f':
			fputs("\\f", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
		}
	}
	fputc('"', out);
}

/* Separator and member name before a value in the current container. */
static void json_member(struct json *j, const char *key)
{
	if (j->has_member[j->depth])
		fputc(',', j->out);
	j->has_member[j->depth] = true;
	if (key) {
		json_write_string(j->out, key);
		fputc(':', j->out);
	}
}

static void json_open(struct json *j, const char *key, char bracket)
{
	json_member(j, key);
	fputc(bracket, j->out);
	if (j->depth < JSON_MAX_DEPTH - 1)
		j->depth++;
	j->has_member[j->depth] = false;
}

static void json_close(struct json *j, char bracket)
{
	fputc(bracket, j->out);
	if (j->depth > 0)
		j->depth--;
	if (j->depth == 0)
		fputc('\n', j->out);
}

void jw_object_begin(struct json *j, const char *key)
{
	json_open(j, key, '{');
}

void jw_object_end(struct json *j)
{
	json_close(j, '}');
}

void jw_array_begin(struct json *j, const char *key)
{
	json_open(j, key, '[');
}

void jw_array_end(struct json *j)
{
	json_close(j, ']');
}

void jw_string(struct json *j, const char *key, const char *value)
{
	json_member(j, key);
	json_write_string(j->out, value);
}

void jw_u64(struct json *j, const char *key, uint64_t value)
{
	json_member(j, key);
	fprintf(j->out, "%" PRIu64, value);
}

void jw_bool(struct json *j, const char *key, bool value)
{
	json_member(j, key);
	fputs(value ? "true" : "false", j->out);
}
