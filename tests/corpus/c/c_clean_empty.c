// A program that allocates nothing: every count is zero.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=0/0 indirect=0/0 possible=0/0 reachable=0/0
int main(void) {
    return 0;
}
