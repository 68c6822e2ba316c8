/* SPDX-License-Identifier: MIT */
/*
 * Error codes. Every fallible weft call returns 0 (or a count) on success and
 * a negative code on failure: either a negated errno value (WEFT_ENOMEM is
 * -ENOMEM) or one of weft's own codes below, which sit in a range no errno
 * reaches. Asynchronous errors travel in a weft_failure keyed by the same
 * codes (see failure.h).
 */
#ifndef WEFT_ERROR_H
#define WEFT_ERROR_H

#include <errno.h>

#include "base.h"

#define WEFT_ENOMEM (-ENOMEM)
#define WEFT_EINVAL (-EINVAL)
#define WEFT_EAGAIN (-EAGAIN)
#define WEFT_ECANCELED (-ECANCELED)
#define WEFT_ETIMEDOUT (-ETIMEDOUT)
#define WEFT_ENOENT (-ENOENT)
#define WEFT_EBUSY (-EBUSY)
#define WEFT_EEXIST (-EEXIST)

/* weft's own codes: from -30000 up, far from any errno. */
enum {
    WEFT_EOF = -30000,          /* end of stream */
    WEFT_EALREADYCALLED,        /* a Deferred or timer has already fired */
    WEFT_ENOTACTIVE,            /* a timer is not pending (fired, cancelled or unknown) */
    WEFT_EFIRSTERROR,           /* gather: one input failed; the cause says how */
    WEFT_EQUEUEOVERFLOW,        /* a DeferredQueue is full */
    WEFT_EQUEUEUNDERFLOW,       /* too many waiters on a DeferredQueue */
    WEFT_ENOTRUNNING,           /* a looping call or reactor is not running */
    WEFT_ERUNNING,              /* ... or is already running */
    WEFT_EFAILED,               /* generic failure raised by user code */
    WEFT_ETLS,                  /* TLS handshake or record error */
    WEFT_ETLSVERIFY,            /* the TLS peer's certificate did not verify */
    WEFT_ETLSTRUNCATED,         /* the TLS peer closed without close_notify */
    WEFT_ENOTFOUND,             /* the name does not exist (NXDOMAIN, or no such address) */
    WEFT_EDNS,                  /* the name could not be resolved; the message says why */
    WEFT_EHTTP,                 /* a malformed HTTP message, or one weft refuses */
    WEFT__ELAST
};

/* A message for any code above or any negated errno. Never NULL; static. */
WEFT_API const char *weft_strerror(int code);

/* The symbolic name of a code ("ENOMEM", "WEFT_EOF"). Never NULL; static. */
WEFT_API const char *weft_err_name(int code);

#endif
