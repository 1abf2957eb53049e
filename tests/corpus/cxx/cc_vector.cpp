// std::vector leaked through `new`: the vector object is definitely lost, its element buffer indirectly
// (the buffer's site is the program's line whose call allocated it: reserve, push_back, the constructor);
// a vector of strings (each long string's buffer indirect too); a vector of vectors; a vector kept by a
// global pointer (all reachable); a vector on main's stack, destroyed (nothing).
// memcheck: same
// expect-exit: 0
// expect-summary: definite=72/3 indirect=740/8 possible=0/0 reachable=224/2
// expect-leak: definite 24/1 cc_vector.cpp:24
// expect-leak: definite 24/1 cc_vector.cpp:31
// expect-leak: definite 24/1 cc_vector.cpp:40
// expect-leak: indirect 400/1 cc_vector.cpp:25
// expect-leak: indirect 128/1 cc_vector.cpp:32
// expect-leak: indirect 41/1 cc_vector.cpp:34
// expect-leak: indirect 51/1 cc_vector.cpp:35
// expect-leak: indirect 120/4 cc_vector.cpp:40
// expect-leak: reachable 224/2 cc_vector.cpp:45
#include <string>
#include <vector>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

std::vector<long> *kept;

__attribute__((noinline)) static void lose_ints() {
    auto *v = new std::vector<int>;
    v->reserve(100);
    for (int i = 0; i < 10; i++) v->push_back(i);
    ESCAPE(v);
}

__attribute__((noinline)) static void lose_strings() {
    auto *v = new std::vector<std::string>;
    v->reserve(4);
    v->push_back("short");
    v->push_back(std::string(40, 'x'));
    v->push_back(std::string(50, 'y'));
    ESCAPE(v);
}

__attribute__((noinline)) static void lose_nested() {
    auto *v = new std::vector<std::vector<char>>(3, std::vector<char>(16, 'z'));
    ESCAPE(v);
}

__attribute__((noinline)) static void keep_longs() {
    kept = new std::vector<long>(25, 7);
}

int main() {
    lose_ints();
    lose_strings();
    lose_nested();
    keep_longs();
    std::vector<int> local(1000, 1);
    ESCAPE(local.data());
    return 0;
}
