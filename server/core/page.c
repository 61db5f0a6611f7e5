/*
 * page.c - nextToken encoding: base64url("p1" + crc-ish check + key).
 * The check byte pair only catches corruption and hand-made tokens; a
 * token grants nothing, so it need not be unforgeable.
 */
#include "page.h"

#include <stdint.h>
#include <string.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static uint16_t sum16(const char *s, size_t n)
{
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < n; i++) {
        a = (a + (unsigned char)s[i]) % 251;
        b = (b + a) % 251;
    }
    return (uint16_t)((b << 8) | a);
}

void page_token_encode(const char *key, char out[PAGE_TOKEN_MAX])
{
    char raw[PAGE_TOKEN_MAX];
    size_t klen = strlen(key);
    size_t max = (PAGE_TOKEN_MAX - 1) / 4 * 3 - 4;
    if (klen > max)
        klen = max;
    uint16_t s = sum16(key, klen);
    raw[0] = 'p';
    raw[1] = '1';
    raw[2] = (char)(s >> 8);
    raw[3] = (char)(s & 0xff);
    memcpy(raw + 4, key, klen);
    size_t n = klen + 4, o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)raw[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)(unsigned char)raw[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)raw[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = b64[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = b64[v & 63];
    }
    out[o] = '\0';
}

static int dec(char c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

enum fl_code page_token_decode(const char *token, char *key, size_t keylen, struct fl_err *err)
{
    char raw[PAGE_TOKEN_MAX];
    size_t n = strlen(token), o = 0;
    if (n == 0 || n >= PAGE_TOKEN_MAX || n % 4 == 1)
        goto bad;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = 0;
        size_t k = n - i < 4 ? n - i : 4;
        for (size_t j = 0; j < 4; j++) {
            int d = j < k ? dec(token[i + j]) : 0;
            if (d < 0)
                goto bad;
            v = (v << 6) | (uint32_t)d;
        }
        raw[o++] = (char)(v >> 16);
        if (k > 2)
            raw[o++] = (char)(v >> 8);
        if (k > 3)
            raw[o++] = (char)v;
    }
    if (o < 4 || raw[0] != 'p' || raw[1] != '1')
        goto bad;
    size_t klen = o - 4;
    uint16_t s = sum16(raw + 4, klen);
    if ((unsigned char)raw[2] != (s >> 8) || (unsigned char)raw[3] != (s & 0xff) || klen >= keylen ||
        memchr(raw + 4, '\0', klen) != NULL)
        goto bad;
    memcpy(key, raw + 4, klen);
    key[klen] = '\0';
    return FL_OK;
bad:
    return fl_err_set(err, FL_INVALID_REQUEST, "The pagination token is invalid");
}
