// Multiple inheritance: a C : A, B object held only through its B* (which points 16 bytes into the block,
// at the B subobject's vtable pointer). Held by a global, Memcheck's multipleinheritance heuristic makes it
// reachable; held by nothing, definite; a non-polymorphic D : E, F held only through its F* (no vtables:
// no heuristic) is possibly lost; an object held through its first base is reachable by its start.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=40/1 indirect=0/0 possible=40/1 reachable=80/2
// expect-leak: definite 40/1 cc_multi_inherit.cpp:44
// expect-leak: possible 40/1 cc_multi_inherit.cpp:51
// expect-leak: reachable 40/1 cc_multi_inherit.cpp:49
// expect-leak: reachable 40/1 cc_multi_inherit.cpp:50
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

struct A {
    virtual ~A() {}
    virtual int a() { return 1; }
    long av = 1;
};
struct B {
    virtual ~B() {}
    virtual int b() { return 2; }
    long bv = 2;
};
struct C : A, B {
    int a() override { return 3; }
    int b() override { return 4; }
    long cv = 3;
};
struct E {
    long e[2] = {5, 5};
};
struct F {
    long f[2] = {6, 6};
};
struct D : E, F {
    long d = 7;
};

B *volatile kept_b;
A *volatile kept_a;
F *volatile kept_f;

__attribute__((noinline)) static void lose() {
    B *b = new C;
    ESCAPE(b);
}

int main() {
    kept_b = new C;
    kept_a = new C;
    kept_f = new D;
    lose();
    return 0;
}
