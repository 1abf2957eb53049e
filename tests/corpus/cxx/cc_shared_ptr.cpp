// shared_ptr cycles: two make_shared nodes pointing at each other (control block and object in one
// allocation: one definite, one indirect); two nodes made from `new` (objects and control blocks separate,
// both 24 bytes: one definite, three indirect); a cycle broken by a weak_ptr (freed); a shared_ptr kept
// through a global pointer to it (reachable) and one in a global object (destroyed at exit: freed). Each
// cycle's blocks come from one line with one size, so whichever Memcheck picks as the cycle's definite block
// (the lowest-addressed), the counts hold.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=104/2 indirect=152/4 possible=0/0 reachable=96/2
// expect-leak: definite 80/1 cc_shared_ptr.cpp:33
// expect-leak: definite 24/1 cc_shared_ptr.cpp:40
// expect-leak: indirect 80/1 cc_shared_ptr.cpp:33
// expect-leak: indirect 72/3 cc_shared_ptr.cpp:40
// expect-leak: reachable 96/2 cc_shared_ptr.cpp:56
#include <memory>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

struct Node {
    std::shared_ptr<Node> next;
    std::weak_ptr<Node> back;
    long payload[4] = {};
};
struct Small {
    std::shared_ptr<Small> next;
    long payload = 0;
};

std::shared_ptr<Node> *kept;
std::shared_ptr<Node> destroyed_at_exit;

__attribute__((noinline)) static void made_cycle() {
    std::shared_ptr<Node> n[2];
    for (auto &p : n) p = std::make_shared<Node>();
    n[0]->next = n[1];
    n[1]->next = n[0];
}

__attribute__((noinline)) static void new_cycle() {
    std::shared_ptr<Small> n[2];
    for (auto &p : n) p.reset(new Small);
    n[0]->next = n[1];
    n[1]->next = n[0];
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
