/* A user's first program against an installed weft: a timer and a Deferred. */
#include <stdio.h>
#include <weft/weft.h>

static weft_result greet(void *arg)
{
    (void)arg;
    printf("hello from weft\n");
    return weft_none();
}

int main(void)
{
    weft_reactor *r;
    if (weft_reactor_new(NULL, &r) < 0)
        return 1;
    weft_deferred *d = weft_defer_later(r, 0.01, greet, NULL);
    int err = weft_reactor_run_until(r, d, 5);
    weft_deferred_unref(d);
    weft_reactor_free(r);
    return err < 0;
}
