// new[] of a class with a destructor (8-byte array cookie before the objects: Memcheck's newarray
// heuristic makes a pointer past the cookie count as a start pointer), a lost one, and exceptions thrown
// and caught (the exception objects are freed; nothing from them remains).
// memcheck: same
// expect-exit: 0
// expect-summary: definite=64/1 indirect=0/0 possible=0/0 reachable=48/1
// expect-leak: reachable 48/1 mx_newarray.cpp:31
// expect-leak: definite 64/1 mx_newarray.cpp:21
#include <stdexcept>
#include <string>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

struct Obj {
    long v = 1;
    ~Obj() { v = 0; }
};

Obj *volatile kept_array;

__attribute__((noinline)) static void lose_array() {
    Obj *a = new Obj[7];
    ESCAPE(a);
}

__attribute__((noinline)) static int thrower(int i) {
    if (i % 2) throw std::runtime_error("odd number " + std::to_string(i));
    return i;
}

int main() {
    kept_array = new Obj[5];
    lose_array();
    int sum = 0;
    for (int i = 0; i < 10; i++) {
        try {
            sum += thrower(i);
        } catch (const std::exception &e) {
            sum += 1;
        }
    }
    return sum == 25 ? 0 : 1;
}
