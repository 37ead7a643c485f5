/* Loaded before libfaketime by `make test-clock`: sleeps on CLOCK_MONOTONIC go straight to the
 * kernel. libfaketime 0.9.10 (Debian bookworm) mangles an absolute monotonic deadline even with
 * FAKETIME_DONT_FAKE_MONOTONIC=1 and the kernel answers EINVAL: Python 3.11's time.sleep() is
 * exactly such a call (wolfcw/libfaketime#426, fixed upstream after 0.9.10). Monotonic time is
 * not faked in these runs, so the kernel's own answer is the right one. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int clock_nanosleep(clockid_t clock_id, int flags, const struct timespec *request, struct timespec *remain)
{
    static int (*next)(clockid_t, int, const struct timespec *, struct timespec *);
    if (clock_id == CLOCK_MONOTONIC) {
        /* clock_nanosleep returns the error number; it never sets errno. */
        return syscall(SYS_clock_nanosleep, clock_id, flags, request, remain) == 0 ? 0 : errno;
    }
    if (!next)
        next = (int (*)(clockid_t, int, const struct timespec *, struct timespec *))dlsym(RTLD_NEXT, "clock_nanosleep");
    return next(clock_id, flags, request, remain);
}
