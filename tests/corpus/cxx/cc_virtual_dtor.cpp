// Deleting a derived object through a base without a virtual destructor frees the object but skips the
// derived destructor: the derived members' heap buffers (a vector's and a string's) are definite, their
// sites the derived constructor's lines; the same through a virtual destructor frees everything.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=166/2 indirect=0/0 possible=0/0 reachable=0/0
// expect-leak: definite 166/2 cc_virtual_dtor.cpp:18
#include <string>
#include <vector>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

struct Base {
    long id = 0;
};
struct Derived : Base {
    std::vector<int> v;
    std::string s;
    Derived() : v(30, 1), s(45, 'd') {}
};
struct VBase {
    virtual ~VBase() {}
};
struct VDerived : VBase {
    std::vector<int> v;
    VDerived() : v(30, 2) {}
};

int main() {
    Base *b = new Derived;
    ESCAPE(b);
    delete b;
    VBase *vb = new VDerived;
    ESCAPE(vb);
    delete vb;
    return 0;
}
