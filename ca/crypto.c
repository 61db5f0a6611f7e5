/*
 * crypto.c - small keyed-hash primitives for libfleet (provisioning
 * ownership tokens, content-addressed names), so that server/core never
 * includes OpenSSL. Knows nothing of the store or of certificates.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>

#include "ca.h"

int ca_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen, unsigned char out[32])
{
    unsigned int n = 0;
    if (HMAC(EVP_sha256(), key, (int)keylen, msg, msglen, out, &n) == NULL || n != 32)
        return -1;
    return 0;
}

void ca_sha256_hex(const void *buf, size_t len, char out[65])
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256(buf, len, d);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}
