// An exception nobody catches: std::terminate prints it and aborts (134). The frames are unwound only as
// far as the runtime decides (not at all without a handler), so main's and f's locals are live; the lost
// block is definite; the exception object is held past the runtime's header (possibly lost), its message
// through what() (reachable by the stdstring heuristic); libstdc++'s emergency exception pool (72704 bytes,
// allocated at start-up, freed by Memcheck only on a normal exit) is reachable, its site in libstdc++.
// memcheck: same
// expect-exit: 134
// expect-summary: definite=84/1 indirect=0/0 possible=144/1 reachable=73104/4
// expect-leak: definite 84/1 cc_uncaught.cpp:19
// expect-leak: possible 144/1 cc_uncaught.cpp:25
// expect-leak: reachable 176/1 cc_uncaught.cpp:24
// expect-leak: reachable 201/1 cc_uncaught.cpp:25
// expect-leak: reachable 23/1 cc_uncaught.cpp:30
#include <stdexcept>
#include <string>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

__attribute__((noinline)) static void lose() {
    int *p = new int[21];
    ESCAPE(p);
}

__attribute__((noinline)) static void f(int n) {
    long *volatile in_f = new long[n];
    throw std::runtime_error(std::string(n * 8, 'u'));
    ESCAPE(in_f);
}

int main() {
    char *volatile in_main = new char[23];
    lose();
    f(22);
    ESCAPE(in_main);
    return 0;
}
