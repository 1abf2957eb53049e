//! What the program's executable says about whether the agent can be preloaded into it: an ELF without a
//! program interpreter (PT_INTERP) is statically linked and never runs the dynamic loader; a 32-bit one
//! cannot load the 64-bit agent.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linkage {
    Dynamic,
    Static,
    Elf32,
    /// Not an ELF file (a script: its interpreter is what runs) or unreadable.
    Other,
}

const PT_INTERP: u32 = 3;

pub fn linkage(path: &Path) -> Linkage {
    read_linkage(path).unwrap_or(Linkage::Other)
}

fn read_linkage(path: &Path) -> std::io::Result<Linkage> {
    let mut f = File::open(path)?;
    let mut h = [0u8; 64];
    f.read_exact(&mut h)?;
    if &h[..4] != b"\x7fELF" || h[5] != 1 {
        // Not ELF, or big-endian (not something this x86-64 tool runs).
        return Ok(Linkage::Other);
    }
    if h[4] != 2 {
        return Ok(Linkage::Elf32);
    }
    let u16_at = |o: usize| u16::from_le_bytes([h[o], h[o + 1]]);
    let phoff = u64::from_le_bytes(h[32..40].try_into().expect("8 bytes"));
    let (phentsize, phnum) = (u16_at(54) as usize, u16_at(56) as usize);
    if phentsize < 4 {
        return Ok(Linkage::Other);
    }
    let mut table = vec![0u8; phentsize * phnum];
    f.seek(SeekFrom::Start(phoff))?;
    f.read_exact(&mut table)?;
    let interp = table
        .chunks_exact(phentsize)
        .any(|ph| u32::from_le_bytes(ph[..4].try_into().expect("4 bytes")) == PT_INTERP);
    Ok(if interp {
        Linkage::Dynamic
    } else {
        Linkage::Static
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn dynamic_static_and_scripts() {
        assert_eq!(linkage(Path::new("/bin/sh")), Linkage::Dynamic);
        let script = std::env::temp_dir().join(format!("leakscope-elf-{}.sh", std::process::id()));
        std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
        assert_eq!(linkage(&script), Linkage::Other);
        std::fs::remove_file(&script).unwrap();
        assert_eq!(linkage(Path::new("/nonexistent")), Linkage::Other);
    }

    #[test]
    fn static_binary_has_no_interpreter() {
        let dir = std::env::temp_dir().join(format!("leakscope-elf-static-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("s.c"), "int main(void) { return 0; }\n").unwrap();
        let built = Command::new("gcc")
            .arg("-static")
            .arg("-o")
            .arg(dir.join("s"))
            .arg(dir.join("s.c"))
            .output();
        match built {
            Ok(o) if o.status.success() => assert_eq!(linkage(&dir.join("s")), Linkage::Static),
            _ => eprintln!("skipped: gcc -static is not available (no static glibc)"),
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
