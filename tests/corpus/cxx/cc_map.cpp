// Node-based containers leaked through `new`: std::map<int, std::string> (nodes and long strings
// indirect), std::unordered_map<int, int> (bucket array and nodes indirect), std::list<long>, std::set<int>,
// std::deque<int> (map array and chunks); an unordered_map kept by a global (reachable).
// memcheck: same
// expect-exit: 0
// expect-summary: definite=256/5 indirect=1242/21 possible=0/0 reachable=144/5
// expect-leak: definite 48/1 cc_map.cpp:32
// expect-leak: definite 56/1 cc_map.cpp:38
// expect-leak: definite 24/1 cc_map.cpp:45
// expect-leak: definite 48/1 cc_map.cpp:47
// expect-leak: definite 80/1 cc_map.cpp:49
// expect-leak: indirect 282/6 cc_map.cpp:33
// expect-leak: indirect 88/1 cc_map.cpp:39
// expect-leak: indirect 80/5 cc_map.cpp:40
// expect-leak: indirect 96/4 cc_map.cpp:45
// expect-leak: indirect 120/3 cc_map.cpp:47
// expect-leak: indirect 576/2 cc_map.cpp:49
// expect-leak: reachable 56/1 cc_map.cpp:54
// expect-leak: reachable 40/1 cc_map.cpp:55
// expect-leak: reachable 48/3 cc_map.cpp:56
#include <deque>
#include <list>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

std::unordered_map<int, int> *kept;

__attribute__((noinline)) static void lose_map() {
    auto *m = new std::map<int, std::string>;
    for (int i = 0; i < 3; i++) (*m)[i] = std::string(20 + i, 'm');
    ESCAPE(m);
}

__attribute__((noinline)) static void lose_umap() {
    auto *m = new std::unordered_map<int, int>;
    m->reserve(8);
    for (int i = 0; i < 5; i++) m->emplace(i, i * i);
    ESCAPE(m);
}

__attribute__((noinline)) static void lose_list_set_deque() {
    auto *l = new std::list<long>{1, 2, 3, 4};
    ESCAPE(l);
    auto *s = new std::set<int>{5, 6, 7};
    ESCAPE(s);
    auto *d = new std::deque<int>(10, 3);
    ESCAPE(d);
}

__attribute__((noinline)) static void keep_umap() {
    kept = new std::unordered_map<int, int>;
    kept->reserve(4);
    for (int i = 0; i < 3; i++) kept->emplace(i, -i);
}

int main() {
    lose_map();
    lose_umap();
    lose_list_set_deque();
    keep_umap();
    return 0;
}
