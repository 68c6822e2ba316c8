/* SPDX-License-Identifier: MIT */
/*
 * TLS over memory BIOs, as a protocol wrapper (wrapper.h). Records from the
 * network go into the `in` BIO and come out of SSL_read as plaintext for the
 * inner protocol; what the inner protocol writes goes through SSL_write into
 * the `out` BIO and is sent on. OpenSSL never touches a descriptor, so TLS
 * runs over any transport, memory ones included.
 *
 * The inner connection starts when the handshake is done. A handshake
 * Deferred (internal, for the tls: client endpoint) says how it ended, so a
 * verification failure can reach a connect Deferred with its reason.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "../core/internal.h"
#include "weft/alloc.h"
#include "weft/deferred.h"
#include "weft/error.h"
#include "weft/log.h"
#include "weft/reactor.h"
#include "weft/tls.h"
#include "weft/transport.h"
#include "weft/wrapper.h"

/* ---- OpenSSL's allocations through weft's allocator ---- */

/* OpenSSL's own allocator gives NULL for 0 bytes, and realloc to 0 frees:
 * the same here. Not in weft's count of live blocks: OpenSSL keeps some of
 * its memory for the life of the process. */
static void *ossl_malloc(size_t size, const char *file, int line)
{
    (void)file;
    (void)line;
    return size ? weft__allocator_malloc(size) : NULL;
}

static void *ossl_realloc(void *ptr, size_t size, const char *file, int line)
{
    (void)file;
    (void)line;
    if (size == 0) {
        weft__allocator_free(ptr);
        return NULL;
    }
    return weft__allocator_realloc(ptr, size);
}

static void ossl_free(void *ptr, const char *file, int line)
{
    (void)file;
    (void)line;
    weft__allocator_free(ptr);
}

int weft_tls_route_allocations(void)
{
    return CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free) ? 0 : WEFT_EBUSY;
}

/* Mozilla's "intermediate" configuration (TLS 1.2 suites; TLS 1.3's are
 * OpenSSL's defaults, all of which it allows). */
static const char intermediate_ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";

typedef struct sni_entry {
    char *name;
    weft_tls_context *ctx;
} sni_entry;

/* A client's saved session for a server name, offered on the next
 * connection to that name (resumption by ticket or session ID). */
typedef struct saved_session {
    char *name;
    SSL_SESSION *sess;
} saved_session;

#define MAX_SAVED_SESSIONS 64

struct weft_tls_context {
    unsigned refs; /* the creator's, each connection's and factory's */
    SSL_CTX *ctx;
    bool server;
    unsigned char *alpn; /* wire format: length-prefixed names */
    size_t alpn_len;
    sni_entry *sni;
    size_t nsni;
    saved_session *saved; /* clients: oldest first */
    size_t nsaved;
};

/* OpenSSL's error queue, as one line (and emptied). */
static void ssl_errors(char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    unsigned long e;
    while ((e = ERR_get_error()) != 0) {
        char one[256];
        ERR_error_string_n(e, one, sizeof one);
        int n = snprintf(buf + used, size - used, "%s%s", used ? "; " : "", one);
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
    if (!used)
        snprintf(buf, size, "no detail from OpenSSL");
}

/* Gives up making context c: *err (when asked for) reads "WHAT: DETAIL",
 * the detail being OpenSSL's errors (the queue is emptied). */
static int fail_ctx(weft_tls_context *c, weft_failure **err, const char *what)
{
    char detail[512];
    ssl_errors(detail, sizeof detail);
    if (err)
        *err = weft_failure_new(WEFT_EINVAL, "%s: %s", what, detail);
    weft_tls_context_free(c);
    return WEFT_EINVAL;
}

/* Whether OpenSSL's first queued error (the root of any after it) is lib's
 * `reason`. */
static bool first_error_is(int lib, int reason)
{
    unsigned long e = ERR_peek_error();
    return e && ERR_GET_LIB(e) == lib && ERR_GET_REASON(e) == reason;
}

/*
 * Why OpenSSL could not load `path`, which should hold `contents` ("a
 * certificate"), said for people: the system's error when the file cannot
 * be read (OpenSSL's own says "system lib", or "no start line" for a
 * directory), else OpenSSL's reason - the first error queued, the root of
 * the others. Empties the error queue.
 */
static void file_reason(const char *path, const char *contents, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))) {
        snprintf(buf, size, "%s", weft_strerror(fd < 0 ? -errno : -EISDIR));
    } else {
        unsigned long e = ERR_peek_error();
        const char *why = e ? ERR_reason_error_string(e) : NULL;
        if (!why)
            why = "no detail";
        /* A file that is not PEM, or PEM of something else: PEM's "no start
         * line" for certificates, the decoders' "unsupported" for keys. */
        if (first_error_is(ERR_LIB_PEM, PEM_R_NO_START_LINE) || first_error_is(ERR_LIB_OSSL_DECODER, ERR_R_UNSUPPORTED))
            snprintf(buf, size, "no PEM %s in it (OpenSSL: %s)", contents, why);
        else
            snprintf(buf, size, "OpenSSL: %s", why);
    }
    if (fd >= 0)
        close(fd);
    ERR_clear_error();
}

/* Gives up making c because `path` (holding `contents`) cannot be loaded:
 * "cannot load the certificate PATH: REASON". */
static int fail_file(weft_tls_context *c, weft_failure **err, const char *what, const char *path, const char *contents)
{
    char reason[512];
    file_reason(path, contents, reason, sizeof reason);
    if (err)
        *err = weft_failure_new(WEFT_EINVAL, "%s %s: %s", what, path, reason);
    weft_tls_context_free(c);
    return WEFT_EINVAL;
}

/* Gives up making c because its key is not the certificate's. */
static int fail_mismatch(weft_tls_context *c, weft_failure **err, const weft_tls_options *o)
{
    unsigned long e = ERR_peek_error();
    const char *why = e ? ERR_reason_error_string(e) : NULL;
    if (err)
        *err = weft_failure_new(WEFT_EINVAL, "the private key %s does not match the certificate %s (OpenSSL: %s)",
                                o->private_key, o->certificate ? o->certificate : "(none)",
                                why ? why : "key values mismatch");
    ERR_clear_error();
    weft_tls_context_free(c);
    return WEFT_EINVAL;
}

/* Whether OpenSSL refused a key for not being the certificate's. */
static bool key_mismatch(void)
{
    return first_error_is(ERR_LIB_X509, X509_R_KEY_VALUES_MISMATCH) ||
           first_error_is(ERR_LIB_X509, X509_R_KEY_TYPE_MISMATCH);
}

static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                       unsigned inlen, void *arg)
{
    (void)ssl;
    weft_tls_context *c = arg;
    unsigned char *sel;
    if (SSL_select_next_proto(&sel, outlen, c->alpn, (unsigned)c->alpn_len, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

static int pick_sni(SSL *ssl, int *alert, void *arg)
{
    (void)alert;
    weft_tls_context *c = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    for (size_t i = 0; name && i < c->nsni; i++) {
        if (strcasecmp(c->sni[i].name, name) == 0) {
            SSL_set_SSL_CTX(ssl, c->sni[i].ctx->ctx);
            break;
        }
    }
    return SSL_TLSEXT_ERR_OK;
}

static int session_saved(SSL *ssl, SSL_SESSION *sess);

static int context_new(bool server, const weft_tls_options *o, weft_tls_context **out, weft_failure **err)
{
    if (err)
        *err = NULL;
    weft_tls_context *c = weft_calloc(1, sizeof *c);
    if (!c)
        return WEFT_ENOMEM;
    c->server = server;
    c->refs = 1;
    c->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!c->ctx)
        return fail_ctx(c, err, "cannot make a TLS context");
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(c->ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    /* Idle connections give their record buffers back. */
    SSL_CTX_set_mode(c->ctx, SSL_MODE_RELEASE_BUFFERS);
    if (!SSL_CTX_set_cipher_list(c->ctx, intermediate_ciphers))
        return fail_ctx(c, err, "cannot set the cipher list");
    if (o->certificate && SSL_CTX_use_certificate_chain_file(c->ctx, o->certificate) != 1)
        return fail_file(c, err, "cannot load the certificate", o->certificate, "certificate");
    if (o->private_key) {
        /* Loading the key checks it against the certificate already. */
        if (SSL_CTX_use_PrivateKey_file(c->ctx, o->private_key, SSL_FILETYPE_PEM) != 1)
            return key_mismatch() ? fail_mismatch(c, err, o)
                                  : fail_file(c, err, "cannot load the private key", o->private_key, "private key");
        if (SSL_CTX_check_private_key(c->ctx) != 1)
            return fail_mismatch(c, err, o);
    }
    if (server && (!o->certificate || !o->private_key)) {
        if (err)
            *err = weft_failure_new(WEFT_EINVAL, "a TLS server needs a certificate and a private key");
        weft_tls_context_free(c);
        return WEFT_EINVAL;
    }
    if (o->extra_chain) {
        FILE *f = fopen(o->extra_chain, "r");
        X509 *x;
        size_t n = 0;
        if (!f)
            return fail_file(c, err, "cannot load the extra chain", o->extra_chain, "certificate");
        while ((x = PEM_read_X509(f, NULL, NULL, NULL))) {
            if (SSL_CTX_add_extra_chain_cert(c->ctx, x) != 1) {
                X509_free(x);
                fclose(f);
                return fail_file(c, err, "cannot add the extra chain", o->extra_chain, "certificate");
            }
            n++;
        }
        fclose(f);
        /* PEM_read_X509's end of file, or - with nothing read - why not. */
        if (n == 0)
            return fail_file(c, err, "cannot load the extra chain", o->extra_chain, "certificate");
        ERR_clear_error();
    }
    struct stat st;
    if (o->trust_roots) {
        int ok = stat(o->trust_roots, &st) == 0 && S_ISDIR(st.st_mode) ? SSL_CTX_load_verify_dir(c->ctx, o->trust_roots)
                                                                     : SSL_CTX_load_verify_file(c->ctx, o->trust_roots);
        if (ok != 1)
            return fail_file(c, err, "cannot load the trust roots", o->trust_roots, "certificate");
    } else if (SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
        return fail_ctx(c, err, "cannot load the system trust store");
    }
    if (o->nalpn) {
        size_t n = 0;
        for (size_t i = 0; i < o->nalpn; i++)
            n += 1 + strlen(o->alpn[i]);
        c->alpn = weft_malloc(n);
        if (!c->alpn) {
            weft_tls_context_free(c);
            return WEFT_ENOMEM;
        }
        for (size_t i = 0; i < o->nalpn; i++) {
            size_t l = strlen(o->alpn[i]);
            if (l == 0 || l > 255) {
                if (err)
                    *err = weft_failure_new(WEFT_EINVAL, "bad ALPN protocol name '%s'", o->alpn[i]);
                weft_tls_context_free(c);
                return WEFT_EINVAL;
            }
            c->alpn[c->alpn_len++] = (unsigned char)l;
            memcpy(c->alpn + c->alpn_len, o->alpn[i], l);
            c->alpn_len += l;
        }
    }
    if (server) {
        if (o->request_client_cert || o->require_client_cert)
            SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER | (o->require_client_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
        if (c->alpn)
            SSL_CTX_set_alpn_select_cb(c->ctx, select_alpn, c);
        SSL_CTX_set_tlsext_servername_callback(c->ctx, pick_sni);
        SSL_CTX_set_tlsext_servername_arg(c->ctx, c);
        /* Resumption with client certificates requested needs it. */
        SSL_CTX_set_session_id_context(c->ctx, (const unsigned char *)"weft", 4);
    } else {
        SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(c->ctx, session_saved);
        SSL_CTX_set_app_data(c->ctx, c);
        SSL_CTX_set_verify(c->ctx, o->insecure_no_verify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
        if (c->alpn && SSL_CTX_set_alpn_protos(c->ctx, c->alpn, (unsigned)c->alpn_len) != 0)
            return fail_ctx(c, err, "cannot set ALPN");
    }
    *out = c;
    return 0;
}

int weft_tls_server_context_new(const weft_tls_options *opts, weft_tls_context **out, weft_failure **err)
{
    return context_new(true, opts, out, err);
}

int weft_tls_client_context_new(const weft_tls_options *opts, weft_tls_context **out, weft_failure **err)
{
    return context_new(false, opts, out, err);
}

static weft_tls_context *context_ref(weft_tls_context *c)
{
    c->refs++;
    return c;
}

void weft_tls_context_free(weft_tls_context *c)
{
    if (!c || --c->refs > 0)
        return;
    SSL_CTX_free(c->ctx);
    for (size_t i = 0; i < c->nsni; i++)
        weft_free(c->sni[i].name);
    weft_free(c->sni);
    for (size_t i = 0; i < c->nsaved; i++) {
        weft_free(c->saved[i].name);
        SSL_SESSION_free(c->saved[i].sess);
    }
    weft_free(c->saved);
    weft_free(c->alpn);
    weft_free(c);
}

static saved_session *saved_find(weft_tls_context *c, const char *name)
{
    for (size_t i = 0; i < c->nsaved; i++)
        if (strcmp(c->saved[i].name, name) == 0)
            return &c->saved[i];
    return NULL;
}

static void saved_drop(weft_tls_context *c, saved_session *s)
{
    weft_free(s->name);
    SSL_SESSION_free(s->sess);
    size_t i = (size_t)(s - c->saved);
    memmove(s, s + 1, (c->nsaved - i - 1) * sizeof *s);
    c->nsaved--;
}

int weft_tls_context_add_sni(weft_tls_context *server, const char *name, weft_tls_context *ctx)
{
    char *copy = weft_strdup(name);
    sni_entry *v = copy ? weft_realloc(server->sni, (server->nsni + 1) * sizeof *v) : NULL;
    if (!v) {
        weft_free(copy);
        return WEFT_ENOMEM;
    }
    server->sni = v;
    v[server->nsni++] = (sni_entry){copy, ctx};
    return 0;
}

/* ---- connections ---- */

typedef struct tls_conn {
    weft_tls_context *ctx;
    SSL *ssl;
    BIO *in, *out;
    char *server_name;
    weft_wrapper *w;
    weft_reactor *r;
    weft_address peer;        /* as accept gave it, or read when connected (len 0: unknown) */
    weft_deferred *handshake; /* made when asked for (weft_tls_handshake); ours */
    weft_failure *outcome;    /* why the handshake failed; NULL while it runs or when it worked */
    bool settled;
    bool done, close_notify_in, shutdown_sent;
} tls_conn;

/* OpenSSL's new-session callback (clients): keep the latest session per
 * server name. Returns 1 when we took the reference to sess. */
static int session_saved(SSL *ssl, SSL_SESSION *sess)
{
    tls_conn *c = SSL_get_app_data(ssl);
    weft_tls_context *ctx = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    if (!c || !c->server_name || !ctx)
        return 0;
    saved_session *s = saved_find(ctx, c->server_name);
    if (s) {
        SSL_SESSION_free(s->sess);
        s->sess = sess;
        return 1;
    }
    if (ctx->nsaved == MAX_SAVED_SESSIONS)
        saved_drop(ctx, &ctx->saved[0]);
    char *name = weft_strdup(c->server_name);
    saved_session *v = name ? weft_realloc(ctx->saved, (ctx->nsaved + 1) * sizeof *v) : NULL;
    if (!v) {
        weft_free(name);
        return 0; /* not resuming next time is all that is lost */
    }
    ctx->saved = v;
    v[ctx->nsaved++] = (saved_session){name, sess};
    return 1;
}

/* Offers the saved session for our server name. A TLS 1.3 ticket is used
 * once (RFC 8446, C.4); the connection brings fresh ones. */
static void session_offer(tls_conn *c)
{
    saved_session *s = c->server_name ? saved_find(c->ctx, c->server_name) : NULL;
    if (!s)
        return;
    if (SSL_set_session(c->ssl, s->sess) != 1)
        ERR_clear_error();
    if (SSL_SESSION_get_protocol_version(s->sess) >= TLS1_3_VERSION)
        saved_drop(c->ctx, s);
}

/* Records and plaintext pass through a buffer of a record's size on the
 * heap, not the stack: 16 KiB is a quarter of a coroutine's stack. Each call
 * has its own, since handing bytes on may come back into this connection. */
enum { RECORD_MAX = 16384 };

/* Sends what OpenSSL has queued. Returns 0, or WEFT_ENOMEM (it stays queued). */
static int flush_out(tls_conn *c)
{
    if (!c->out || BIO_pending(c->out) == 0)
        return 0;
    char *buf = weft_malloc(RECORD_MAX);
    if (!buf)
        return WEFT_ENOMEM;
    int n;
    while ((n = BIO_read(c->out, buf, RECORD_MAX)) > 0)
        weft_wrapper_pass_down(c->w, buf, (size_t)n);
    weft_free(buf);
    return 0;
}

/* Records how the handshake ended (the reference to f passes here) and
 * tells whoever asked; returns whether someone was told. Nobody asking is
 * fine: a server's connections usually have no one waiting, and then the
 * failure is logged instead. */
static bool settle_handshake(tls_conn *c, weft_failure *f)
{
    if (c->settled) {
        weft_failure_unref(f);
        return false;
    }
    c->settled = true;
    c->outcome = f;
    weft_deferred *d = c->handshake;
    c->handshake = NULL;
    if (!d)
        return false;
    if (f)
        weft_deferred_errback(d, weft_failure_ref(f));
    else
        weft_deferred_callback(d, NULL, NULL);
    weft_deferred_unref(d);
    return true;
}

static void fail(tls_conn *c, int code, const char *what)
{
    char detail[512];
    /* No SSL at all when making it ran out of memory. */
    long verify = c->ssl ? SSL_get_verify_result(c->ssl) : X509_V_OK;
    if (!c->done && verify != X509_V_OK) {
        code = WEFT_ETLSVERIFY;
        snprintf(detail, sizeof detail, "%s", X509_verify_cert_error_string(verify));
        ERR_clear_error();
    } else {
        ssl_errors(detail, sizeof detail);
    }
    /* The address read when the connection was made: by now the peer may
     * have reset it, and the socket no longer knows. */
    char peer[128] = "(unknown)";
    if (c->peer.len)
        weft_address_format(&c->peer, peer, sizeof peer);
    /* Whoever waits for the handshake gets the failure and decides whether
     * to log it; a failure nobody waits for (a server's handshake, or after
     * it) is logged here, the connection's end carrying only its code. */
    if (!settle_handshake(c, weft_failure_new(code, "TLS %s with %s: %s", what, peer, detail)))
        weft_log(weft_reactor_logger(c->r), WEFT_LOG_WARN, "weft.tls", "TLS with {peer}: {what}: {detail}",
                 WEFT_LOG_STR("peer", peer), WEFT_LOG_STR("what", what), WEFT_LOG_STR("detail", detail));
    (void)flush_out(c); /* an alert, if OpenSSL made one and memory allows */
    weft_wrapper_fail(c->w, code);
}

static void read_plaintext(tls_conn *c)
{
    char *buf = weft_malloc(RECORD_MAX);
    if (!buf) {
        fail(c, WEFT_ENOMEM, "reading records");
        return;
    }
    while (!c->close_notify_in) {
        int n = SSL_read(c->ssl, buf, RECORD_MAX);
        if (n > 0) {
            weft_wrapper_pass_up(c->w, buf, (size_t)n);
            if (!weft_wrapper_outer(c->w)) {
                weft_free(buf);
                return;
            }
            continue;
        }
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            break;
        if (e == SSL_ERROR_ZERO_RETURN) {
            c->close_notify_in = true;
            weft_wrapper_pass_up_eof(c->w);
            break;
        }
        weft_free(buf);
        fail(c, WEFT_ETLS, "record error");
        return;
    }
    weft_free(buf);
    if (flush_out(c) < 0)
        fail(c, WEFT_ENOMEM, "sending records");
}

static void handshake(tls_conn *c)
{
    int rc = SSL_do_handshake(c->ssl);
    if (flush_out(c) < 0) {
        fail(c, WEFT_ENOMEM, "sending the handshake");
        return;
    }
    if (rc == 1) {
        c->done = true;
        settle_handshake(c, NULL);
        weft_wrapper_start(c->w);
        read_plaintext(c);
        return;
    }
    int e = SSL_get_error(c->ssl, rc);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
        fail(c, WEFT_ETLS, "handshake failed");
}

static void tls_connected(weft_wrapper *w)
{
    tls_conn *c = weft_wrapper_ctx(w);
    c->w = w;
    /* Unless the factory was told it by accept (a connection reset before
     * it was accepted no longer answers getpeername), ask now. */
    if (!c->peer.len && weft_transport_peer(weft_wrapper_outer(w), &c->peer) < 0)
        c->peer.len = 0;
    weft_wrapper_hold_start(w);
    c->r = weft_transport_reactor(weft_wrapper_outer(w));
    c->ssl = SSL_new(c->ctx->ctx);
    c->in = BIO_new(BIO_s_mem());
    c->out = BIO_new(BIO_s_mem());
    if (!c->ssl || !c->in || !c->out) {
        SSL_free(c->ssl);
        BIO_free(c->in);
        BIO_free(c->out);
        c->ssl = NULL;
        c->in = c->out = NULL;
        fail(c, WEFT_ENOMEM, "setting up");
        return;
    }
    /* Record buffers grow as needed rather than failing at 0 bytes free. */
    BIO_set_mem_eof_return(c->in, -1);
    SSL_set_bio(c->ssl, c->in, c->out);
    SSL_set_app_data(c->ssl, c);
    if (c->ctx->server) {
        SSL_set_accept_state(c->ssl);
        return; /* the client speaks first */
    }
    if (c->server_name) {
        unsigned char ip[16];
        bool is_ip = inet_pton(AF_INET, c->server_name, ip) == 1 || inet_pton(AF_INET6, c->server_name, ip) == 1;
        if (is_ip) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), c->server_name);
        } else {
            SSL_set_tlsext_host_name(c->ssl, c->server_name);
            SSL_set1_host(c->ssl, c->server_name);
        }
        session_offer(c);
    }
    SSL_set_connect_state(c->ssl);
    handshake(c);
}

static void tls_incoming(weft_wrapper *w, const void *data, size_t len)
{
    tls_conn *c = weft_wrapper_ctx(w);
    if (!c->ssl)
        return;
    if (BIO_write(c->in, data, (int)len) != (int)len) {
        fail(c, WEFT_ENOMEM, "buffering records");
        return;
    }
    if (c->done)
        read_plaintext(c);
    else
        handshake(c);
}

static void tls_outgoing(weft_wrapper *w, const void *data, size_t len)
{
    tls_conn *c = weft_wrapper_ctx(w);
    if (!c->done || c->shutdown_sent)
        return;
    while (len > 0) {
        int chunk = len > 1 << 30 ? 1 << 30 : (int)len;
        int n = SSL_write(c->ssl, data, chunk);
        if (n <= 0) {
            fail(c, WEFT_ETLS, "write failed");
            return;
        }
        data = (const char *)data + n;
        len -= (size_t)n;
    }
    if (flush_out(c) < 0)
        fail(c, WEFT_ENOMEM, "sending records");
}

static bool tls_eof(weft_wrapper *w)
{
    tls_conn *c = weft_wrapper_ctx(w);
    if (c->close_notify_in)
        return false; /* the EOF has been passed on already */
    if (!c->done) {
        ERR_clear_error();
        fail(c, WEFT_ETLS, "peer closed during the handshake");
    } else {
        weft_wrapper_fail(w, WEFT_ETLSTRUNCATED);
    }
    return false;
}

static void tls_closing(weft_wrapper *w)
{
    tls_conn *c = weft_wrapper_ctx(w);
    if (!c->done || c->shutdown_sent)
        return;
    c->shutdown_sent = true;
    SSL_shutdown(c->ssl); /* queues close_notify; we do not wait for theirs */
    if (flush_out(c) < 0)
        fail(c, WEFT_ENOMEM, "sending close_notify");
}

static void tls_lost(weft_wrapper *w, const weft_failure *why)
{
    tls_conn *c = weft_wrapper_ctx(w);
    if (!c->settled)
        settle_handshake(c, weft_failure_new(weft_failure_code(why), "connection lost during the TLS handshake: %s",
                                             weft_failure_message(why)));
}

static void tls_destroy(weft_wrapper *w)
{
    tls_conn *c = weft_wrapper_ctx(w);
    SSL_free(c->ssl); /* and its BIOs */
    weft_deferred_unref(c->handshake);
    weft_failure_unref(c->outcome);
    weft_free(c->server_name);
    weft_tls_context_free(c->ctx);
    weft_free(c);
}

static const weft_wrapper_ops tls_ops = {
    .incoming = tls_incoming,
    .outgoing = tls_outgoing,
    .connected = tls_connected,
    .lost = tls_lost,
    .eof = tls_eof,
    .closing = tls_closing,
    .destroy = tls_destroy,
};

/* weft_tls_wrap, knowing the peer's address when the caller does (NULL:
 * read when the connection is made). */
static weft_protocol *wrap(weft_tls_context *ctx, weft_protocol *inner, const char *server_name,
                           const weft_address *peer)
{
    tls_conn *c = weft_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (peer)
        c->peer = *peer;
    if (server_name && !(c->server_name = weft_strdup(server_name))) {
        weft_free(c);
        return NULL;
    }
    weft_protocol *p = weft_wrapper_new(&tls_ops, c, inner);
    if (!p) {
        weft_free(c->server_name);
        weft_free(c);
        return NULL;
    }
    c->ctx = context_ref(ctx);
    return p;
}

weft_protocol *weft_tls_wrap(weft_tls_context *ctx, weft_protocol *inner, const char *server_name)
{
    return wrap(ctx, inner, server_name, NULL);
}

static tls_conn *conn_of(weft_transport *t);

int weft_tls_start(weft_transport *t, weft_tls_context *ctx, const char *server_name)
{
    if (weft_transport_disconnecting(t))
        return WEFT_EINVAL;
    weft_protocol *p = weft_tls_wrap(ctx, weft_transport_protocol(t), server_name);
    if (!p)
        return WEFT_ENOMEM;
    int err = weft_wrapper_adopt(t, p);
    if (err < 0)
        weft_wrapper_discard(p);
    return err;
}

weft_protocol *weft_tls_protocol_of(weft_transport *inner)
{
    tls_conn *c = conn_of(inner);
    return c ? weft_wrapper_protocol(c->w) : NULL;
}

static tls_conn *conn_of(weft_transport *t)
{
    weft_wrapper *w = weft_wrapper_of_transport(t);
    return w && weft_wrapper_ctx(w) && ((tls_conn *)weft_wrapper_ctx(w))->w == w ? weft_wrapper_ctx(w) : NULL;
}

const char *weft_tls_alpn(weft_transport *t, size_t *len)
{
    tls_conn *c = conn_of(t);
    const unsigned char *p = NULL;
    unsigned l = 0;
    if (c && c->ssl)
        SSL_get0_alpn_selected(c->ssl, &p, &l);
    *len = l;
    return l ? (const char *)p : NULL;
}

bool weft_tls_handshake_done(weft_transport *t)
{
    tls_conn *c = conn_of(t);
    return c && c->done;
}

bool weft_tls_session_reused(weft_transport *t)
{
    tls_conn *c = conn_of(t);
    return c && c->done && SSL_session_reused(c->ssl);
}

weft_deferred *weft_tls_handshake(weft_protocol *wrapper_protocol)
{
    tls_conn *c = weft_wrapper_ctx(weft_wrapper_of(wrapper_protocol));
    if (!c->r)
        return NULL; /* not connected yet */
    if (c->settled)
        return c->outcome ? weft_fail(c->r, weft_failure_ref(c->outcome)) : weft_succeed(c->r, NULL, NULL);
    if (!c->handshake && !(c->handshake = weft_deferred_new(c->r)))
        return NULL;
    return weft_deferred_ref(c->handshake);
}

/* ---- the factory ---- */

typedef struct tls_factory {
    weft_factory base;
    weft_tls_context *ctx; /* a reference */
    weft_factory *inner;
    char *server_name;
    bool closing; /* freed by the last connection's end */
} tls_factory;

static void tls_factory_destroy(tls_factory *tf)
{
    weft_tls_context_free(tf->ctx);
    weft_free(tf->server_name);
    weft_free(tf);
}

static weft_protocol *tls_build(weft_factory *f, const weft_address *peer)
{
    tls_factory *tf = (tls_factory *)f;
    weft_protocol *inner = tf->inner->ops->build(tf->inner, peer);
    if (!inner)
        return NULL;
    if (!inner->factory)
        inner->factory = tf->inner;
    weft_protocol *p = wrap(tf->ctx, inner, tf->server_name, peer);
    if (!p)
        weft_protocol_destroy(inner);
    return p;
}

static void tls_factory_stopped(weft_factory *f)
{
    tls_factory *tf = (tls_factory *)f;
    if (tf->closing)
        tls_factory_destroy(tf);
}

static const weft_factory_ops tls_factory_ops = {.build = tls_build, .stop = tls_factory_stopped};

weft_factory *weft_tls_factory_new(weft_tls_context *ctx, weft_factory *inner, const char *server_name)
{
    tls_factory *tf = weft_calloc(1, sizeof *tf);
    if (!tf)
        return NULL;
    if (server_name && !(tf->server_name = weft_strdup(server_name))) {
        weft_free(tf);
        return NULL;
    }
    tf->base.ops = &tls_factory_ops;
    tf->ctx = context_ref(ctx);
    tf->inner = inner;
    return &tf->base;
}

void weft_tls_factory_free(weft_factory *f)
{
    tls_factory *tf = (tls_factory *)f;
    if (!tf)
        return;
    if (tf->base.users == 0)
        tls_factory_destroy(tf);
    else
        tf->closing = true;
}
