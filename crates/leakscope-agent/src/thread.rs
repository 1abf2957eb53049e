//! The calling thread as glibc lays it out: its thread pointer, and where the data words of its pthread
//! keys lie relative to it (read there directly, they cost no call into libc on the allocation path).

/// The calling thread's pointer (glibc's `struct pthread`, at `%fs:0x10` on x86-64).
#[inline]
pub fn pointer() -> usize {
    let tp: usize;
    // SAFETY: reads the TCB's self pointer, which every glibc thread has.
    unsafe {
        core::arch::asm!("mov {}, qword ptr fs:[0x10]", out(reg) tp, options(nostack, readonly, preserves_flags))
    };
    tp
}

/// Where this thread's data word for `key` lives relative to the thread pointer, found by setting two values
/// and looking for them (glibc keeps the first 32 keys' words inside `struct pthread`, so the offset is the
/// same in every thread). Leaves the word null. None for a key whose word is elsewhere.
pub fn key_slot_offset(key: libc::pthread_key_t) -> Option<isize> {
    if key >= 32 {
        return None;
    }
    let tp = pointer();
    let probe = |v: usize| -> Option<isize> {
        // SAFETY: setting our own key's value.
        unsafe { libc::pthread_setspecific(key, v as *const core::ffi::c_void) };
        let mut words = [0usize; 512];
        let n = crate::maps::copy_out(tp, core::mem::size_of_val(&words), &mut words)? / 8;
        words[..n]
            .iter()
            .position(|&w| w == v)
            .map(|i| i as isize * 8)
    };
    let (a, b) = (probe(0x5eed_c0de_1234_5670), probe(0x0dd_ba11_8765_4320));
    // SAFETY: as above.
    unsafe { libc::pthread_setspecific(key, core::ptr::null()) };
    a.filter(|&off| b == Some(off))
}
