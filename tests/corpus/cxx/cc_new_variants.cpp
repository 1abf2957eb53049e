// The forms of operator new: plain, array, nothrow, aligned (alignas(64): operator new(size, align_val_t)),
// aligned array, an explicit operator new call, and placement new into malloc'ed memory (the malloc is the
// site); each leaked once; their freed twins leave nothing.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=553/7 indirect=0/0 possible=0/0 reachable=0/0
// expect-leak: definite 12/1 cc_new_variants.cpp:26
// expect-leak: definite 44/1 cc_new_variants.cpp:28
// expect-leak: definite 24/1 cc_new_variants.cpp:30
// expect-leak: definite 128/1 cc_new_variants.cpp:32
// expect-leak: definite 256/1 cc_new_variants.cpp:34
// expect-leak: definite 77/1 cc_new_variants.cpp:36
// expect-leak: definite 12/1 cc_new_variants.cpp:38
#include <cstdlib>
#include <new>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

struct alignas(64) Wide {
    char b[100];
};
struct Small {
    int a, b, c;
};

int main() {
    Small *s = new Small();
    ESCAPE(s);
    int *a = new int[11];
    ESCAPE(a);
    Small *n = new (std::nothrow) Small[2];
    ESCAPE(n);
    Wide *w = new Wide();
    ESCAPE(w);
    Wide *wa = new Wide[2];
    ESCAPE(wa);
    void *raw = ::operator new(77);
    ESCAPE(raw);
    void *mem = std::malloc(sizeof(Small));
    Small *pl = new (mem) Small{1, 2, 3};
    ESCAPE(pl);
    delete new Small();
    delete[] new int[5];
    delete new Wide();
    delete[] new Wide[3];
    ::operator delete(::operator new(9));
    s = nullptr;
    a = nullptr;
    n = nullptr;
    w = wa = nullptr;
    raw = mem = nullptr;
    pl = nullptr;
    return 0;
}
