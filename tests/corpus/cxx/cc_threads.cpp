// std::thread workers (joined): each leaks a `new` object from its own site; a thread_local object with a
// destructor frees its buffer at thread exit; a thread_local raw pointer's block is lost with the thread
// (definite); std::thread's own state is freed.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=360/6 indirect=0/0 possible=0/0 reachable=0/0
// expect-leak: definite 120/3 cc_threads.cpp:22
// expect-leak: definite 240/3 cc_threads.cpp:24
#include <thread>
#include <vector>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

struct Buffer {
    std::vector<char> data;
    Buffer() : data(500, 'b') {}
};

thread_local Buffer tl_buffer;
thread_local long *tl_raw;

__attribute__((noinline)) static void work(int i) {
    long *p = new long[4 + i];
    ESCAPE(p);
    tl_raw = new long[10];
    ESCAPE(tl_buffer.data.data());
}

int main() {
    std::vector<std::thread> ts;
    for (int i = 0; i < 3; i++) ts.emplace_back(work, i);
    for (auto &t : ts) t.join();
    return 0;
}
