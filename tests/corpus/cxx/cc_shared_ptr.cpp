// shared_ptr cycles: two make_shared nodes pointing at each other (control block and object in one
// allocation: one definite, one indirect); two nodes made from `new` (objects and control blocks separate:
// one definite, three indirect); a cycle broken by a weak_ptr (freed); a shared_ptr kept through a global
// pointer to it (reachable) and one in a global object (destroyed at exit: freed).
// memcheck: same
// expect-exit: 0
// expect-summary: definite=144/2 indirect=192/4 possible=0/0 reachable=96/2
// expect-leak: definite 80/1 cc_shared_ptr.cpp:27
// expect-leak: definite 64/1 cc_shared_ptr.cpp:34
// expect-leak: indirect 80/1 cc_shared_ptr.cpp:28
// expect-leak: indirect 24/1 cc_shared_ptr.cpp:34
// expect-leak: indirect 88/2 cc_shared_ptr.cpp:35
// expect-leak: reachable 96/2 cc_shared_ptr.cpp:51
#include <memory>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

struct Node {
    std::shared_ptr<Node> next;
    std::weak_ptr<Node> back;
    long payload[4] = {};
};

std::shared_ptr<Node> *kept;
std::shared_ptr<Node> destroyed_at_exit;

__attribute__((noinline)) static void made_cycle() {
    auto a = std::make_shared<Node>();
    auto b = std::make_shared<Node>();
    a->next = b;
    b->next = a;
}

__attribute__((noinline)) static void new_cycle() {
    std::shared_ptr<Node> a(new Node);
    std::shared_ptr<Node> b(new Node);
    a->next = b;
    b->next = a;
}

__attribute__((noinline)) static void weak_back() {
    auto a = std::make_shared<Node>();
    auto b = std::make_shared<Node>();
    a->next = b;
    b->back = a;
}

int main() {
    made_cycle();
    new_cycle();
    weak_back();
    kept = new std::shared_ptr<Node>(std::make_shared<Node>());
    destroyed_at_exit = std::make_shared<Node>();
    return 0;
}
