// Multiple inheritance: a leaked object known only through a pointer to its second base (an interior
// pointer that Memcheck's multipleinheritance heuristic accepts: reachable), and a shared_ptr cycle
// (one definite, the rest indirect).
// memcheck: same
// expect-exit: 0
// expect-summary: definite=64/1 indirect=64/1 possible=0/0 reachable=40/1
// expect-leak: reachable 40/1 mx_inherit.cpp:32
// expect-leak: indirect 64/1 mx_inherit.cpp:26
// expect-leak: definite 64/1 mx_inherit.cpp:25
#include <memory>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

struct A { virtual ~A() {} long a = 1; };
struct B { virtual ~B() {} long b = 2; };
struct C : A, B { long c = 3; };

B *volatile second_base;

struct Node {
    std::shared_ptr<Node> other;
    long payload[4] = {};
};

__attribute__((noinline)) static void cycle() {
    auto x = std::make_shared<Node>();
    auto y = std::make_shared<Node>();
    x->other = y;
    y->other = x;
}

int main() {
    second_base = new C();
    cycle();
    return 0;
}
