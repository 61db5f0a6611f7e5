/*
 * policy_doc.h - AWS IoT policy documents: strict validation (for
 * CreatePolicy / CreatePolicyVersion) and compilation of a principal's
 * documents, with the connection's variables, into a struct policy_set
 * that policy_eval.h evaluates without allocating.
 *
 * The grammar is IAM's: {"Version", "Id"?, "Statement": statement |
 * [statement...]}, statement = {"Sid"?, "Effect": "Allow"|"Deny",
 * "Action"|"NotAction", "Resource"|"NotResource", "Condition"?}, actions
 * and resources as a string or a list of strings. Policy variables
 * (${iot:ClientId}, ${iot:Connection.Thing.*}, ${iot:Certificate.*},
 * ${iot:CertificateId}, ${aws:SourceIp}) and the escapes ${*} ${?} ${$}
 * (also written $(*) $(?) $($)) are substituted in Resource and Condition
 * values when Version is "2012-10-17"; under "2008-10-17" (or no Version,
 * as IAM) they are literal text.
 *
 * Compilation decides everything the connection fixes:
 *   - a Resource entry whose variable cannot be resolved never matches (it
 *     is dropped; a statement left without resources never applies), a
 *     NotResource entry that cannot be resolved makes its statement
 *     inapplicable;
 *   - conditions are evaluated once; a statement whose conditions do not
 *     hold is dropped, as is one whose condition values name a variable
 *     that cannot be resolved. Missing keys follow IAM: the condition is
 *     false, except for the negated operators (StringNotEquals, ...: true),
 *     ...IfExists (true), ForAllValues: (true) and Null.
 * Knows nothing of HTTP, MQTT or SQL.
 */
#ifndef FL_POLICY_DOC_H
#define FL_POLICY_DOC_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "policy_eval.h"

/* Size limit of a document: characters other than whitespace (AWS quota). */
#define POLICY_DOC_MAX_CHARS 2048
/* Hard limit on the raw text, whitespace included (the service model's
 * PolicyDocument max length). */
#define POLICY_DOC_MAX_BYTES 404600

/* One thing attribute, for ${iot:Connection.Thing.Attributes[name]}. */
struct policy_attr {
    const char *name;
    const char *value;
};

/* What a connection knows about itself. Every pointer is borrowed for the
 * duration of policy_doc_compile(); NULL means "not available" and leaves
 * the variable unresolved. */
struct policy_vars {
    const char *region; /* ARN prefix parts; required */
    const char *account;
    const char *client_id;           /* iot:ClientId */
    const char *thing_name;          /* iot:Connection.Thing.ThingName: the attached thing named by the client
                                      * id (or the exclusively attached thing); NULL when none */
    const char *thing_type_name;     /* iot:Connection.Thing.ThingTypeName */
    const struct policy_attr *attrs; /* the thing's attributes (used only when thing_name is set) */
    size_t nattrs;
    int is_attached;            /* iot:Connection.Thing.IsAttached ("true"/"false") */
    const char *certificate_id; /* iot:CertificateId */
    const char *source_ip;      /* aws:SourceIp */
    /* iot:Certificate.<name> ("Subject.CommonName", "Issuer.Organization",
     * "SerialNumber", ...): writes the value (NUL-terminated) into buf and
     * returns 1, or returns 0 when the certificate has no such field. NULL
     * when no certificate is known. */
    int (*cert_field)(void *ctx, const char *name, char *buf, size_t buflen);
    void *cert_ctx;
};

/* One policy to compile: its name (reported by the evaluator) and the text
 * of its default version. Borrowed. */
struct policy_src {
    const char *name;
    const char *document;
};

/* Checks a document against the grammar above and the size limits.
 * Returns FL_OK, or FL_MALFORMED_POLICY with a message naming the problem
 * (not JSON, no Statement, a bad Effect, an unknown field, an action that
 * is not iot:..., a resource that is neither "*" nor an ARN, an unknown
 * condition operator, a document over 2048 characters, ...). */
enum fl_code policy_doc_validate(const char *document, struct fl_err *err);

/* Compiles n documents with the connection's variables into one set (one
 * allocation; release with policy_set_free()). Statements keep the index
 * of their source in src as their policy index. A document that does not
 * validate fails the whole compilation with FL_MALFORMED_POLICY naming
 * the policy; FL_INTERNAL when out of memory. The size limit is not
 * applied here (stored documents passed it). */
enum fl_code policy_doc_compile(const struct policy_src *src, size_t n, const struct policy_vars *vars,
                                struct policy_set **out, struct fl_err *err);

/* Parsed documents kept by their text, so that compiling the policies of
 * many principals parses each distinct document once (parsing is most of
 * a compile); what is left per compile is the walk that substitutes the
 * connection's variables. At most max_docs documents (least recently used
 * go first). Not thread-safe: one cache per thread (the broker plugin has
 * one). */
struct policy_doc_cache;
/* NULL when out of memory. */
struct policy_doc_cache *policy_doc_cache_new(size_t max_docs);
/* NULL is fine. */
void policy_doc_cache_free(struct policy_doc_cache *dc);
/* Documents held, and how many compiles found theirs parsed. */
size_t policy_doc_cache_size(const struct policy_doc_cache *dc);
uint64_t policy_doc_cache_hits(const struct policy_doc_cache *dc);

/* policy_doc_compile() parsing through dc (NULL: no cache). Same results. */
enum fl_code policy_doc_compile_with(struct policy_doc_cache *dc, const struct policy_src *src, size_t n,
                                     const struct policy_vars *vars, struct policy_set **out,
                                     struct fl_err *err);

#endif
