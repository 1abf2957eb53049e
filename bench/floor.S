/* floor.so: the cheapest possible malloc interposer, for bench/run. Preloaded like leakscope's agent, each
   of malloc, free, calloc and realloc is a single jump to glibc's, so what it costs a program (one more
   indirect jump per call, from the program's PLT through this library to glibc) is the price of
   intercepting allocations with LD_PRELOAD at all, whatever the interposer then does. */
    .text
    .globl malloc, free, calloc, realloc
    .type malloc, @function
malloc:
    jmp *__libc_malloc@GOTPCREL(%rip)
    .type free, @function
free:
    jmp *__libc_free@GOTPCREL(%rip)
    .type calloc, @function
calloc:
    jmp *__libc_calloc@GOTPCREL(%rip)
    .type realloc, @function
realloc:
    jmp *__libc_realloc@GOTPCREL(%rip)
    .section .note.GNU-stack, "", @progbits
