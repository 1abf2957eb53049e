// Exceptions thrown and caught: the exception objects (and their message strings) are freed by the
// catch; a raw `new` whose delete the throw skips is definite; a unique_ptr is freed by the unwinding; a
// constructor that throws inside a new-expression gets its memory freed; an exception kept alive by a
// std::exception_ptr (itself `new`ed, kept by a global: reachable) is held by a pointer past the runtime's
// header (possibly lost), and so is its message buffer, reached only through it.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=60/3 indirect=0/0 possible=259/2 reachable=8/1
// expect-leak: definite 60/3 cc_exceptions.cpp:26
// expect-leak: possible 259/2 cc_exceptions.cpp:49
// expect-leak: reachable 8/1 cc_exceptions.cpp:51
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

std::exception_ptr *saved;

struct Thrower {
    char buf[40];
    Thrower() { throw std::runtime_error("constructor failed with a message long enough to be on the heap"); }
};

__attribute__((noinline)) static void leaky(int n) {
    int *raw = new int[n];
    ESCAPE(raw);
    auto owned = std::make_unique<long[]>(n);
    ESCAPE(owned.get());
    if (n > 3) throw std::runtime_error(std::string(n * 10, 'e'));
    delete[] raw;
}

int main() {
    for (int i = 0; i < 3; i++) {
        try {
            leaky(4 + i);
        } catch (const std::exception &e) {
            ESCAPE(e.what());
        }
    }
    try {
        auto *t = new Thrower;
        ESCAPE(t);
    } catch (const std::runtime_error &e) {
        ESCAPE(e.what());
    }
    try {
        throw std::logic_error(std::string(90, 's'));
    } catch (...) {
        saved = new std::exception_ptr(std::current_exception());
    }
    return 0;
}
