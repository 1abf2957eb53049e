// new[] of a class with a destructor puts the element count before the elements (the array cookie): the
// pointer the program holds is 8 bytes into the block. Held by a global, Memcheck's newarray heuristic makes
// it reachable; lost, it is definite; an array of a trivially destructible type has no cookie (reachable by
// its start); `new D[0]` is an 8-byte block of just the cookie whose pointer lies past its end (definite,
// Memcheck's documented case); a delete[]'d array is gone.
// memcheck: same
// light: differs: the new[] cookie heuristic sees usable sizes
// expect-exit: 0
// expect-summary: definite=112/2 indirect=0/0 possible=0/0 reachable=248/2
// expect-leak: definite 104/1 cc_newarray.cpp:31
// expect-leak: definite 8/1 cc_newarray.cpp:38
// expect-leak: reachable 128/1 cc_newarray.cpp:36
// expect-leak: reachable 120/1 cc_newarray.cpp:37
#include <cstdlib>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

struct D {
    long v[3];
    D() : v{1, 2, 3} {}
    ~D() { ESCAPE(v); }
};
struct P {
    long v[3];
};

D *volatile kept_d;
D *volatile kept_empty;
P *volatile kept_p;

__attribute__((noinline)) static void lose() {
    D *d = new D[4];
    ESCAPE(d);
}

int main() {
    kept_d = new D[5];
    kept_p = new P[5];
    kept_empty = new D[0];
    lose();
    D *tmp = new D[7];
    delete[] tmp;
    return 0;
}
