// Objects with static storage: a global vector and string are destroyed at exit (freed); a function-local
// static pointer to a `new` object is reachable; a global object whose destructor does not free its raw
// member leaves that block reachable (the object's storage is still there); a global constructor that runs
// before main allocates from its own line (reachable through the global it fills).
// memcheck: same
// expect-exit: 0
// expect-summary: definite=0/0 indirect=0/0 possible=0/0 reachable=140/3
// expect-leak: reachable 68/1 cc_static_objects.cpp:17
// expect-leak: reachable 48/1 cc_static_objects.cpp:27
// expect-leak: reachable 24/1 cc_static_objects.cpp:31
#include <string>
#include <vector>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

struct Registry {
    int *slots;
    Registry() : slots(new int[17]) {}
    ~Registry() {}
};

std::vector<long> global_vec(40, 4);
std::string global_str(60, 's');
Registry registry;

struct Config {
    std::vector<int> values;
    Config() : values(12, 3) {}
};

__attribute__((noinline)) static Config &config() {
    static Config *c = new Config;
    return *c;
}

int main() {
    ESCAPE(config().values.data());
    ESCAPE(global_vec.data());
    ESCAPE(global_str.data());
    return 0;
}
