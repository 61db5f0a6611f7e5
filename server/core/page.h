/*
 * page.h - opaque nextToken encoding for keyset pagination.
 *
 * A token carries the sort key of the last item returned (e.g. a thing
 * name), so pages stay stable while rows are added: the next page starts
 * strictly after that key. Tokens are base64url and checked on decode; a
 * token that was not made here is InvalidRequestException.
 */
#ifndef FL_PAGE_H
#define FL_PAGE_H

#include <stddef.h>

#include "err.h"

#define PAGE_TOKEN_MAX 2048

/* Encodes key into out (NUL-terminated); out must hold PAGE_TOKEN_MAX. */
void page_token_encode(const char *key, char out[PAGE_TOKEN_MAX]);
/* Decodes token into key (NUL-terminated, at most keylen-1 bytes).
 * Returns FL_INVALID_REQUEST for a malformed token. */
enum fl_code page_token_decode(const char *token, char *key, size_t keylen, struct fl_err *err);

#endif
