// C++ containers leaked through `new`: the container object is definitely lost, its buffers and nodes
// indirectly lost; a std::string kept by a global (reachable through the stdstring heuristic's start).
// memcheck: same
// expect-exit: 0
// expect-summary: definite=128/3 indirect=328/6 possible=0/0 reachable=133/2
// expect-leak: indirect 120/2 mx_containers.cpp:35
// expect-leak: reachable 133/2 mx_containers.cpp:43
// expect-leak: indirect 64/1 mx_containers.cpp:23
// expect-leak: definite 24/1 mx_containers.cpp:22
// expect-leak: indirect 144/3 mx_containers.cpp:29
// expect-leak: definite 56/1 mx_containers.cpp:34
// expect-leak: definite 48/1 mx_containers.cpp:28
#include <map>
#include <string>
#include <unordered_map>
#include <vector>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

std::string *kept;

__attribute__((noinline)) static void leak_vector() {
    auto *v = new std::vector<int>();
    for (int i = 0; i < 10; i++) v->push_back(i);
    ESCAPE(v);
}

__attribute__((noinline)) static void leak_map() {
    auto *m = new std::map<int, long>();
    for (int i = 0; i < 3; i++) (*m)[i] = i;
    ESCAPE(m);
}

__attribute__((noinline)) static void leak_unordered() {
    auto *u = new std::unordered_map<int, int>();
    (*u)[1] = 2;
    ESCAPE(u);
}

int main() {
    leak_vector();
    leak_map();
    leak_unordered();
    kept = new std::string(100, 'x');
    std::vector<std::string> fine(5, std::string(64, 'y'));
    return 0;
}
