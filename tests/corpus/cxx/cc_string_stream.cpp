// Strings and streams leaked through `new`: a short std::string (in-object buffer: one block), a long one
// (object definite, buffer indirect), a string grown by appends (the last reallocation's site), an
// ostringstream (object definite, its buffer indirect); a std::string kept by a global pointer (reachable)
// and a global std::string object (destroyed at exit: nothing).
// memcheck: same
// expect-exit: 0
// expect-summary: definite=472/4 indirect=819/3 possible=0/0 reachable=63/2
// expect-leak: definite 32/1 cc_string_stream.cpp:24
// expect-leak: definite 32/1 cc_string_stream.cpp:26
// expect-leak: definite 32/1 cc_string_stream.cpp:28
// expect-leak: definite 376/1 cc_string_stream.cpp:34
// expect-leak: indirect 65/1 cc_string_stream.cpp:26
// expect-leak: indirect 241/1 cc_string_stream.cpp:29
// expect-leak: indirect 513/1 cc_string_stream.cpp:35
// expect-leak: reachable 63/2 cc_string_stream.cpp:42
#include <sstream>
#include <string>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

std::string *kept;
std::string destroyed_at_exit(100, 'g');

__attribute__((noinline)) static void lose_strings() {
    auto *s = new std::string("tiny");
    ESCAPE(s);
    auto *l = new std::string(64, 'L');
    ESCAPE(l);
    auto *g = new std::string;
    for (int i = 0; i < 10; i++) g->append(20, 'a' + i);
    ESCAPE(g);
}

__attribute__((noinline)) static void lose_stream() {
    auto *os = new std::ostringstream;
    for (int i = 0; i < 20; i++) *os << "item " << i << "; ";
    ESCAPE(os);
}

int main() {
    lose_strings();
    lose_stream();
    kept = new std::string(30, 'k');
    ESCAPE(destroyed_at_exit.data());
    return 0;
}
