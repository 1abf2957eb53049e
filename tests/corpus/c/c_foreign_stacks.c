// Allocations made on stacks that are neither the main stack nor a thread's: a signal handler on an
// alternate signal stack, and a coroutine (makecontext) on a stack from malloc. Both get their full stack
// and allocation site.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=0/0 indirect=0/0 possible=0/0 reachable=65674/3
// expect-leak: reachable 50/1 c_foreign_stacks.c:18
// expect-leak: reachable 88/1 c_foreign_stacks.c:19
// expect-leak: reachable 65536/1 c_foreign_stacks.c:28
#include <signal.h>
#include <stdlib.h>
#include <ucontext.h>

static char alt_stack[65536];
static ucontext_t main_ctx, co_ctx;
void *from_handler, *from_coroutine, *co_stack;

static void on_usr1(int sig) { from_handler = malloc(sig + 40); }
static void coroutine(void) { from_coroutine = malloc(88); }

int main(void) {
    stack_t ss = {.ss_sp = alt_stack, .ss_size = sizeof alt_stack};
    sigaltstack(&ss, NULL);
    struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_ONSTACK};
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);

    co_stack = malloc(65536);
    getcontext(&co_ctx);
    co_ctx.uc_stack.ss_sp = co_stack;
    co_ctx.uc_stack.ss_size = 65536;
    co_ctx.uc_link = &main_ctx;
    makecontext(&co_ctx, coroutine, 0);
    swapcontext(&main_ctx, &co_ctx);
    return 0;
}
