// operator new that fails: the new-handler runs (twice, then gives up) and std::bad_alloc is thrown and
// caught; nothrow new and new[] return null; new(0) gives a 0-byte block (leaked, as Memcheck reports it),
// and allocation goes on being tracked afterwards.
// memcheck: differs: Valgrind's operator new cannot throw and exits the program when an allocation fails
// expect-exit: 0
// expect-summary: definite=8/2 indirect=0/0 possible=0/0 reachable=0/0
// expect-leak: definite 0/1 cc_new_failure.cpp:37
// expect-leak: definite 8/1 cc_new_failure.cpp:39
#include <cstdio>
#include <cstdlib>
#include <new>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

static int handler_calls;

static void handler() {
    if (++handler_calls == 2)
        std::set_new_handler(nullptr);
}

int main() {
    volatile std::size_t huge = std::size_t(1) << 62;
    std::set_new_handler(handler);
    bool thrown = false;
    try {
        char *p = new char[huge];
        ESCAPE(p);
    } catch (const std::bad_alloc &) {
        thrown = true;
    }
    char *q = new (std::nothrow) char[huge];
    void *r = ::operator new(huge, std::nothrow);
    if (!thrown || handler_calls != 2 || q || r) {
        std::printf("thrown=%d handler=%d q=%p r=%p\n", thrown, handler_calls, (void *)q, r);
        return 1;
    }
    void *z = ::operator new(0);
    ESCAPE(z);
    long *l = new long(7);
    ESCAPE(l);
    z = nullptr;
    l = nullptr;
    ESCAPE(z);
    ESCAPE(l);
    return 0;
}
