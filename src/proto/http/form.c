/* SPDX-License-Identifier: MIT */
/*
 * Reading a form body (http_form.h): a drain on the request body that
 * gathers an urlencoded body whole, or drives the multipart parser
 * (multipart.c), collecting fields into the request's arguments and
 * handing file parts out as founts.
 *
 * Backpressure: when a file part cannot take bytes (no drain yet, or
 * paused) the parser stops where it is; the rest of what the body gave is
 * kept and the body is paused, so the connection stops reading. The
 * part's resume (or a drain joining, or a stop) schedules a pump that
 * feeds what was kept, then resumes the body.
 *
 * Re-entrance: user code runs inside the parser's callbacks (on_file, a
 * part drain's receive and flow_stopped) and may do anything there -
 * cancel the form, abort the request. So the form only records a failure
 * while `busy`, and concludes (answers, fires, frees) when the outermost
 * call returns; it holds the request (req->busy) until then.
 */
#include <string.h>
#include <strings.h>

#include "form_int.h"
#include "http_int.h"
#include "weft/http_form.h"
#include "weft/timer.h"

enum { KIND_URLENCODED, KIND_MULTIPART };

typedef struct form form;

struct weft_http_part {
    weft_fount f;
    form *form;
    weft_http_headers *headers;
    weft__http_buf strs;
    size_t name, filename;
    long content_type; /* -1: none */
    bool stopped;
};

struct form {
    weft_drain d; /* on the request body */
    weft_http_request *req;
    weft_deferred *done;
    weft_http_form_options o;
    weft_http_args *args; /* the request's */
    int kind;
    weft__http_buf body; /* an urlencoded body */
    weft__http_mp *mp;
    size_t field_bytes;   /* held in memory, names and values */
    weft__http_buf field; /* the field being read: its name, NUL, its value */
    size_t field_name;
    bool in_field;
    weft_http_part *part; /* the file part being read */
    weft__http_buf held;  /* body bytes the parser has not taken yet */
    size_t held_off;
    bool paused_up; /* the body is paused for what is held */
    bool eof;       /* the body has ended with WEFT_EOF */
    unsigned busy;
    weft_failure *failure; /* why the form failed */
    bool answer;           /* ... and whether weft answers the client for it */
    bool succeeded, cancelled, over;
    weft_timer kick;
    bool kick_armed;
};

/* ---- failing and concluding ---- */

static void fail_with(form *f, weft_failure *why, bool answer)
{
    if (f->failure || f->succeeded) {
        weft_failure_unref(why);
        return;
    }
    f->failure = why;
    f->answer = answer;
}

/* A refusal of ours: the client hears of it. Returns code, for the
 * parser's callbacks to stop it with. */
static int refuse(form *f, int code, const char *why)
{
    fail_with(f, weft_failure_new(code, "%s", why ? why : weft_strerror(code)), true);
    return code;
}

/* The stopping code callbacks return once the form has failed. */
static int failed_code(const form *f)
{
    return f->failure ? weft_failure_code(f->failure) : 0;
}

static void answer(weft_http_request *req, const weft_failure *why)
{
    if (!req->conn || req->headers_sent || req->resp_done)
        return;
    int code = weft_failure_code(why);
    int status = code == -EMSGSIZE ? 413 : code == WEFT_ENOMEM ? 503 : 400;
    weft__http_buf page = {0};
    if (weft__http_error_body(&page, status, weft_failure_message(why)) == 0)
        weft__http_respond_internal(req, status, "text/html; charset=utf-8", page.data, page.len, true);
    weft__http_buf_free(&page);
}

static void part_free(weft_http_part *p)
{
    weft_http_headers_free(p->headers);
    weft__http_buf_free(&p->strs);
    weft_free(p);
}

/* Ends the part's fount (user code runs) and frees it. */
static void part_finish(weft_http_part *p, const weft_failure *why)
{
    weft_fount_end(&p->f, why);
    part_free(p);
}

static void conclude(form *f)
{
    if (f->busy || f->over || (!f->failure && !f->succeeded))
        return;
    f->over = true;
    if (f->kick_armed)
        weft_timer_cancel(f->req->r, f->kick);
    weft_http_request *req = f->req;
    weft_fount *up = f->d.fount;
    if (up) {
        /* the body has not ended: leave it, and drop the rest */
        up->drain = NULL;
        f->d.fount = NULL;
        if (f->paused_up)
            weft_fount_resume(up);
        weft_fount_stop(up);
    }
    if (f->failure && f->answer)
        answer(req, f->failure);
    weft_http_part *part = f->part;
    weft_http_args *args = f->args;
    weft_deferred *done = f->done;
    weft_failure *failure = f->failure;
    bool fire = !f->cancelled;
    weft__http_mp_free(f->mp);
    weft__http_buf_free(&f->body);
    weft__http_buf_free(&f->field);
    weft__http_buf_free(&f->held);
    weft_free(f);
    if (part)
        part_finish(part, failure);
    if (!fire)
        weft_failure_unref(failure);
    else if (failure)
        weft_deferred_errback(done, failure);
    else
        weft_deferred_callback(done, args, NULL);
    weft_deferred_unref(done);
    req->busy--;
    weft__http_request_release(req);
}

/* ---- feeding the parser ---- */

/* Feeds p[0..n) (n may be 0: a part_end may be owed); returns how much was
 * taken, or -1 when the form failed. */
static long feed(form *f, const char *p, size_t n)
{
    const char *why = NULL;
    long r = weft__http_mp_feed(f->mp, p, n, &why);
    if (r < 0) {
        refuse(f, (int)r, why); /* a callback's failure, when there is one, stays */
        return -1;
    }
    return r;
}

static void pause_up(form *f)
{
    if (!f->paused_up && f->d.fount) {
        f->paused_up = true;
        weft_fount_pause(f->d.fount);
    }
}

/* Whether the file part being read cannot take bytes now. */
static bool part_blocked(const form *f)
{
    const weft_http_part *p = f->part;
    return p && !p->stopped && (!p->f.drain || p->f.pauses);
}

/* Feeds what is held; at the end of the body, finishes; when all is
 * taken and the part can take more, lets the body flow again. */
static void pump(form *f)
{
    f->busy++;
    size_t left = f->held.len - f->held_off;
    if (!f->failure && (left || f->eof)) {
        long r = feed(f, left ? f->held.data + f->held_off : "", left);
        if (r >= 0) {
            f->held_off += (size_t)r;
            if (f->held_off == f->held.len) {
                weft__http_buf_clear(&f->held);
                f->held_off = 0;
            }
        }
    }
    if (!f->failure && !f->held.len) {
        if (f->eof) {
            const char *why;
            int rc = weft__http_mp_finish(f->mp, &why);
            if (rc == 0)
                f->succeeded = true;
            else if (rc < 0)
                refuse(f, rc, why);
            /* WEFT__MP_LATER: a part's end waits for its drain */
        } else if (f->paused_up && !part_blocked(f)) {
            f->paused_up = false;
            if (f->d.fount)
                weft_fount_resume(f->d.fount);
        }
    }
    f->busy--;
    conclude(f);
}

static void kicked(void *arg)
{
    form *f = arg;
    f->kick_armed = false;
    pump(f);
}

/* Pumps from the loop, never inside the call of the part's drain that
 * made it possible (so a drain is never re-entered by its own resume). */
static void schedule_pump(form *f)
{
    if (f->kick_armed || f->over)
        return;
    if (weft_call_later(f->req->r, 0, kicked, f, &f->kick) == 0) {
        f->kick_armed = true;
        return;
    }
    refuse(f, WEFT_ENOMEM, NULL);
    conclude(f);
}

/* ---- the part's fount ---- */

/* The part pauses the request body at once (rather than at its next
 * bytes), so the connection stops reading when the part's drain says. */
static void part_pause(weft_fount *fo)
{
    weft_http_part *p = (weft_http_part *)fo;
    pause_up(p->form);
}

static void part_resume(weft_fount *fo)
{
    weft_http_part *p = (weft_http_part *)fo;
    schedule_pump(p->form);
}

static void part_stop(weft_fount *fo)
{
    weft_http_part *p = (weft_http_part *)fo;
    p->stopped = true;
    if (p->f.drain && p->f.drain->fount == &p->f)
        p->f.drain->fount = NULL;
    p->f.drain = NULL;
    schedule_pump(p->form);
}

static void part_flowing_to(weft_fount *fo, weft_drain *d)
{
    weft_http_part *p = (weft_http_part *)fo;
    if (d)
        schedule_pump(p->form);
}

static const weft_fount_ops part_ops = {.pause = part_pause, .resume = part_resume, .stop = part_stop, .flowing_to = part_flowing_to};

const char *weft_http_part_name(const weft_http_part *p)
{
    return p->strs.data + p->name;
}

const char *weft_http_part_filename(const weft_http_part *p)
{
    return p->strs.data + p->filename;
}

const char *weft_http_part_content_type(const weft_http_part *p)
{
    return p->content_type < 0 ? NULL : p->strs.data + p->content_type;
}

const weft_http_headers *weft_http_part_headers(const weft_http_part *p)
{
    return p->headers;
}

weft_fount *weft_http_part_body(weft_http_part *p)
{
    return &p->f;
}

/* ---- the parser's callbacks ---- */

static int mp_begin(void *arg, const weft__http_mp_part *mp)
{
    form *f = arg;
    if (f->failure)
        return failed_code(f);
    if (mp->filename && f->o.on_file) {
        weft_http_part *p = weft_calloc(1, sizeof *p);
        if (!p)
            return refuse(f, WEFT_ENOMEM, NULL);
        p->f.ops = &part_ops;
        p->form = f;
        p->headers = weft_http_headers_copy(mp->headers);
        p->name = weft__http_buf_add_str(&p->strs, mp->name, strlen(mp->name));
        p->filename = weft__http_buf_add_str(&p->strs, mp->filename, strlen(mp->filename));
        p->content_type =
            mp->content_type ? (long)weft__http_buf_add_str(&p->strs, mp->content_type, strlen(mp->content_type)) : -1;
        if (!p->headers || p->strs.failed) {
            part_free(p);
            return refuse(f, WEFT_ENOMEM, NULL);
        }
        f->part = p;
        f->o.on_file(f->o.arg, f->req, p);
        return failed_code(f);
    }
    if (weft_http_args_count(f->args) >= f->o.max_fields)
        return refuse(f, -E2BIG, "too many fields in the form");
    size_t n = strlen(mp->name);
    if (n > f->o.max_field_bytes - f->field_bytes)
        return refuse(f, -EMSGSIZE, "the form's fields are too large");
    f->field_bytes += n;
    weft__http_buf_clear(&f->field);
    weft__http_buf_add_str(&f->field, mp->name, n);
    if (f->field.failed)
        return refuse(f, WEFT_ENOMEM, NULL);
    f->field_name = n;
    f->in_field = true;
    return 0;
}

static int mp_data(void *arg, const char *data, size_t len)
{
    form *f = arg;
    if (f->failure)
        return failed_code(f);
    if (f->in_field) {
        if (len > f->o.max_field_bytes - f->field_bytes)
            return refuse(f, -EMSGSIZE, "the form's fields are too large");
        f->field_bytes += len;
        weft__http_buf_append(&f->field, data, len);
        if (f->field.failed)
            return refuse(f, WEFT_ENOMEM, NULL);
        return 0;
    }
    weft_http_part *p = f->part;
    if (p->stopped)
        return 0;
    if (!p->f.drain || p->f.pauses)
        return WEFT__MP_LATER;
    weft_fount_emit(&p->f, data, len);
    return failed_code(f);
}

static int mp_end(void *arg)
{
    form *f = arg;
    if (f->failure)
        return failed_code(f);
    if (f->in_field) {
        f->in_field = false;
        const char *name = f->field.data;
        if (weft_http_args_add(f->args, name, f->field_name, name + f->field_name + 1,
                               f->field.len - f->field_name - 1) < 0)
            return refuse(f, WEFT_ENOMEM, NULL);
        return 0;
    }
    weft_http_part *p = f->part;
    if (!p->stopped && !p->f.drain)
        return WEFT__MP_LATER; /* the end, too, waits for a drain */
    f->part = NULL;
    weft_failure *eof = weft_failure_new(WEFT_EOF, "end of the part");
    part_finish(p, eof);
    weft_failure_unref(eof);
    if (f->paused_up)
        schedule_pump(f); /* the part paused the body; the next may flow */
    return failed_code(f);
}

static const weft__http_mp_ops mp_ops = {mp_begin, mp_data, mp_end};

/* ---- the drain on the request body ---- */

static void form_receive(weft_drain *d, const void *data, size_t len)
{
    form *f = WEFT_CONTAINER_OF(d, form, d);
    if (f->over || f->failure)
        return;
    f->busy++;
    if (f->kind == KIND_URLENCODED) {
        if (len > f->o.max_field_bytes - f->body.len) {
            refuse(f, -EMSGSIZE, "the form's fields are too large");
        } else {
            weft__http_buf_append(&f->body, data, len);
            if (f->body.failed)
                refuse(f, WEFT_ENOMEM, NULL);
        }
    } else if (f->held.len) {
        weft__http_buf_append(&f->held, data, len);
        if (f->held.failed)
            refuse(f, WEFT_ENOMEM, NULL);
    } else {
        long r = feed(f, data, len);
        if (r >= 0 && (size_t)r < len) {
            f->held_off = 0;
            weft__http_buf_append(&f->held, (const char *)data + r, len - (size_t)r);
            if (f->held.failed)
                refuse(f, WEFT_ENOMEM, NULL);
            else
                pause_up(f);
        }
    }
    f->busy--;
    conclude(f);
}

static void form_stopped(weft_drain *d, const weft_failure *reason)
{
    form *f = WEFT_CONTAINER_OF(d, form, d);
    f->d.fount = NULL;
    if (f->over)
        return;
    if (weft_failure_code(reason) != WEFT_EOF) {
        /* The server has answered (413, 408) or the client is gone. The
         * connection is in the middle of letting the request go: conclude
         * (user code, and the release of the request) from the loop. */
        fail_with(f, weft_failure_ref((weft_failure *)reason), false);
        schedule_pump(f);
        return;
    }
    f->eof = true;
    if (f->kind == KIND_MULTIPART) {
        pump(f);
        return;
    }
    int rc = weft_http_args_parse(f->args, f->body.data ? f->body.data : "", f->body.len, f->o.max_fields);
    if (rc == -E2BIG)
        refuse(f, rc, "too many fields in the form");
    else if (rc < 0)
        refuse(f, rc, NULL);
    else
        f->succeeded = true;
    conclude(f);
}

static const weft_drain_ops form_drain_ops = {.receive = form_receive, .flow_stopped = form_stopped};

static void form_cancel(void *arg, weft_deferred *d)
{
    (void)d;
    form *f = arg;
    /* The Deferred errbacks itself with WEFT_ECANCELED once this returns. */
    f->cancelled = true;
    fail_with(f, weft_failure_new(WEFT_ECANCELED, "reading the form was cancelled"), false);
    conclude(f);
}

/* ---- starting ---- */

/* A failed Deferred for a refusal made before reading, answered at once. */
static weft_deferred *refused_now(weft_http_request *req, int code, const char *why)
{
    weft_failure *fl = weft_failure_new(code, "%s", why ? why : weft_strerror(code));
    if (fl && code != -EALREADY)
        answer(req, fl);
    return weft_fail(req->r, fl);
}

static bool type_is(const char *ctype, const char *want)
{
    size_t n;
    const char *t = ctype ? weft__http_param_type(ctype, &n) : NULL;
    return t && n == strlen(want) && strncasecmp(t, want, n) == 0;
}

weft_deferred *weft_http_request_read_form(weft_http_request *req, const weft_http_form_options *opts)
{
    weft__http_parsed *parsed = weft__http_parsed_of(req);
    if (!parsed)
        return NULL;
    if (parsed->form_started)
        return refused_now(req, -EALREADY, "the form has been read already");
    const weft_http_args *args;
    int rc = weft_http_request_args(req, &args);
    if (rc == WEFT_ENOMEM)
        return NULL;
    parsed->form_started = true;
    if (rc < 0)
        return refused_now(req, rc, "too many arguments in the query");

    weft_http_form_options o = opts ? *opts : (weft_http_form_options){0};
    o.max_fields = o.max_fields ? o.max_fields : WEFT_HTTP_ARGS_MAX;
    o.max_field_bytes = o.max_field_bytes ? o.max_field_bytes : 1u << 20;
    o.max_parts = o.max_parts ? o.max_parts : 1000;
    o.max_part_header_bytes = o.max_part_header_bytes ? o.max_part_header_bytes : 8192;

    const char *ctype = weft_http_request_header(req, "content-type");
    int kind;
    if (type_is(ctype, "application/x-www-form-urlencoded"))
        kind = KIND_URLENCODED;
    else if (type_is(ctype, "multipart/form-data"))
        kind = KIND_MULTIPART;
    else
        return weft_succeed(req->r, (void *)args, NULL);
    if (kind == KIND_URLENCODED && req->content_length > 0 && (uint64_t)req->content_length > o.max_field_bytes)
        return refused_now(req, -EMSGSIZE, "the form's fields are too large");

    form *f = weft_calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->d.ops = &form_drain_ops;
    f->req = req;
    f->o = o;
    f->args = parsed->args;
    f->kind = kind;
    if (kind == KIND_MULTIPART) {
        weft__http_mp_limits lim = {.max_parts = o.max_parts, .max_header_bytes = o.max_part_header_bytes};
        const char *why;
        f->mp = weft__http_mp_new(ctype, &lim, &mp_ops, f, &rc, &why);
        if (!f->mp) {
            weft_free(f);
            return rc == WEFT_ENOMEM ? NULL : refused_now(req, rc, why);
        }
    }
    f->done = weft_deferred_new(req->r);
    if (!f->done) {
        weft__http_mp_free(f->mp);
        weft_free(f);
        return NULL;
    }
    weft_deferred_set_canceller(f->done, form_cancel, f);
    weft_deferred *result = weft_deferred_ref(f->done);
    req->busy++;
    weft_flow_to(&req->body, &f->d); /* may conclude at once: a body already over */
    return result;
}
