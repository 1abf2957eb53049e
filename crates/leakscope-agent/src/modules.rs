//! The loaded modules (executable and shared objects): address ranges, load bias, build-id, unwind tables.
//!
//! Built with `dl_iterate_phdr` at start-up and rebuilt when an address outside every known module shows up
//! (a `dlopen`). A rebuilt list is published by swapping a pointer; old lists are kept (they are small and
//! few), so a reader never sees one freed under it.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::{c_int, c_void, CStr};
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use gimli::{
    BaseAddresses, EhFrame, EhFrameHdr, EndianSlice, LittleEndian, ParsedEhFrameHdr, Pointer,
};

pub type Slice = EndianSlice<'static, LittleEndian>;

pub struct Module {
    pub start: usize,
    pub end: usize,
    pub bias: usize,
    pub path: String,
    pub build_id: Vec<u8>,
    pub unwind: Option<UnwindInfo>,
}

pub struct UnwindInfo {
    pub bases: BaseAddresses,
    pub hdr: ParsedEhFrameHdr<Slice>,
    pub eh_frame: EhFrame<Slice>,
}

pub struct ModuleList {
    /// Sorted by start address.
    pub modules: Vec<Module>,
    /// `dlpi_adds` + `dlpi_subs` when the list was built: tells whether a rebuild would change anything.
    pub generation: u64,
}

impl ModuleList {
    pub fn find(&self, addr: usize) -> Option<&Module> {
        let i = self.modules.partition_point(|m| m.start <= addr);
        let m = self.modules.get(i.checked_sub(1)?)?;
        (addr < m.end).then_some(m)
    }
}

static CURRENT: AtomicPtr<ModuleList> = AtomicPtr::new(core::ptr::null_mut());
static LAST_CHECKED_GEN: AtomicU64 = AtomicU64::new(u64::MAX);

/// The current module list (built on first use).
pub fn current() -> &'static ModuleList {
    let p = CURRENT.load(Ordering::Acquire);
    if !p.is_null() {
        // SAFETY: published lists are never freed.
        return unsafe { &*p };
    }
    refresh()
}

/// Rebuilds the module list if modules were loaded or unloaded since it was built; returns the current one.
pub fn refresh() -> &'static ModuleList {
    let gen = loader_generation();
    let p = CURRENT.load(Ordering::Acquire);
    // SAFETY: as above.
    if !p.is_null() && unsafe { (*p).generation } == gen {
        return unsafe { &*p };
    }
    let list = Box::leak(Box::new(build(gen)));
    CURRENT.store(list, Ordering::Release);
    LAST_CHECKED_GEN.store(gen, Ordering::Relaxed);
    list
}

fn loader_generation() -> u64 {
    unsafe extern "C" fn cb(
        info: *mut libc::dl_phdr_info,
        _size: usize,
        data: *mut c_void,
    ) -> c_int {
        let info = &*info;
        *(data as *mut u64) = info.dlpi_adds.wrapping_add(info.dlpi_subs);
        1
    }
    let mut gen = 0u64;
    // SAFETY: the callback only reads the info it is given.
    unsafe { libc::dl_iterate_phdr(Some(cb), (&mut gen as *mut u64).cast()) };
    gen
}

fn build(generation: u64) -> ModuleList {
    unsafe extern "C" fn cb(
        info: *mut libc::dl_phdr_info,
        _size: usize,
        data: *mut c_void,
    ) -> c_int {
        let out = &mut *(data as *mut Vec<Module>);
        if let Some(m) = module_from_phdrs(&*info, out.is_empty()) {
            out.push(m);
        }
        0
    }
    let mut modules: Vec<Module> = Vec::new();
    // SAFETY: the callback only reads the info it is given.
    unsafe { libc::dl_iterate_phdr(Some(cb), (&mut modules as *mut Vec<Module>).cast()) };
    modules.sort_by_key(|m| m.start);
    ModuleList {
        modules,
        generation,
    }
}

/// # Safety
/// `info` must come from `dl_iterate_phdr`.
unsafe fn module_from_phdrs(info: &libc::dl_phdr_info, is_first: bool) -> Option<Module> {
    let bias = info.dlpi_addr as usize;
    let phdrs = core::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize);
    let (mut start, mut end) = (usize::MAX, 0usize);
    let (mut exec, mut writable) = (Vec::new(), Vec::new());
    let mut eh_hdr = None;
    let mut build_id = Vec::new();
    for ph in phdrs {
        let lo = bias + ph.p_vaddr as usize;
        let hi = lo + ph.p_memsz as usize;
        match ph.p_type {
            libc::PT_LOAD => {
                start = start.min(lo);
                end = end.max(hi);
                if ph.p_flags & libc::PF_X != 0 {
                    exec.push((lo, hi));
                }
                if ph.p_flags & libc::PF_W != 0 {
                    writable.push((lo, hi));
                }
            }
            libc::PT_GNU_EH_FRAME => eh_hdr = Some((lo, ph.p_memsz as usize)),
            libc::PT_NOTE if build_id.is_empty() => {
                build_id = find_build_id(lo, ph.p_memsz as usize)
            }
            _ => {}
        }
    }
    if start >= end {
        return None; // e.g. the vDSO on some kernels reports nothing loadable
    }
    let name = if info.dlpi_name.is_null() {
        ""
    } else {
        CStr::from_ptr(info.dlpi_name).to_str().unwrap_or("")
    };
    let path = if name.is_empty() && is_first {
        exe_path()
    } else if !name.is_empty() && !name.starts_with('/') {
        // dlopen("./lib.so") names the library as given, relative to a cwd the analyzer does not know.
        absolute_path_of(start).unwrap_or_else(|| String::from(name))
    } else {
        String::from(name)
    };
    let unwind = eh_hdr.and_then(|(a, n)| unwind_info(a, n, &exec, &writable, start, end));
    Some(Module {
        start,
        end,
        bias,
        path,
        build_id,
        unwind,
    })
}

/// The file mapped at `addr`, from /proc/self/maps.
fn absolute_path_of(addr: usize) -> Option<String> {
    crate::maps::read()
        .into_iter()
        .find(|m| m.start <= addr && addr < m.end && m.is_file())
        .map(|m| m.path)
}

/// Reads NT_GNU_BUILD_ID out of a mapped PT_NOTE segment.
unsafe fn find_build_id(addr: usize, len: usize) -> Vec<u8> {
    let notes = core::slice::from_raw_parts(addr as *const u8, len);
    let mut off = 0usize;
    let word = |o: usize| {
        notes
            .get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    while let (Some(namesz), Some(descsz), Some(ty)) = (word(off), word(off + 4), word(off + 8)) {
        let name_at = off + 12;
        let desc_at = name_at + ((namesz + 3) & !3);
        let next = desc_at + ((descsz + 3) & !3);
        if ty == 3 && notes.get(name_at..name_at + namesz) == Some(b"GNU\0") {
            return notes
                .get(desc_at..desc_at + descsz)
                .map(|d| d.to_vec())
                .unwrap_or_default();
        }
        if next <= off {
            break;
        }
        off = next;
    }
    Vec::new()
}

/// The executable's path, from /proc/self/exe.
pub fn exe_path() -> String {
    let mut buf = [0u8; 4096];
    // SAFETY: buffer and length match.
    let n = unsafe {
        libc::readlink(
            c"/proc/self/exe".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n <= 0 {
        return String::new();
    }
    String::from_utf8_lossy(&buf[..n as usize]).into_owned()
}

/// Parses `.eh_frame_hdr` in place; `.eh_frame` is bounded by the end of the segment that holds it.
unsafe fn unwind_info(
    hdr_addr: usize,
    hdr_len: usize,
    exec: &[(usize, usize)],
    writable: &[(usize, usize)],
    start: usize,
    end: usize,
) -> Option<UnwindInfo> {
    let hdr_data: &'static [u8] = core::slice::from_raw_parts(hdr_addr as *const u8, hdr_len);
    let bases = BaseAddresses::default().set_eh_frame_hdr(hdr_addr as u64);
    let hdr = EhFrameHdr::new(hdr_data, LittleEndian)
        .parse(&bases, 8)
        .ok()?;
    let Pointer::Direct(eh_addr) = hdr.eh_frame_ptr() else {
        return None;
    };
    let eh_addr = eh_addr as usize;
    if eh_addr < start || eh_addr >= end {
        return None;
    }
    // .eh_frame sits in a read-only segment; bound it by the next segment start we know of, else the module end.
    let seg_end = exec
        .iter()
        .chain(writable)
        .map(|&(lo, _)| lo)
        .filter(|&lo| lo > eh_addr)
        .min()
        .unwrap_or(end)
        .min(end);
    let eh_data: &'static [u8] =
        core::slice::from_raw_parts(eh_addr as *const u8, seg_end - eh_addr);
    let text = exec.first().map(|&(lo, _)| lo).unwrap_or(start);
    let bases = bases.set_eh_frame(eh_addr as u64).set_text(text as u64);
    Some(UnwindInfo {
        bases,
        hdr,
        eh_frame: EhFrame::new(eh_data, LittleEndian),
    })
}
