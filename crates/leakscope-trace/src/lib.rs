//! The leakscope trace format: what the agent writes inside the traced process and the analyzer reads back.
//!
//! A trace is a 16-byte file header followed by self-delimiting chunks, each with a length, a kind, the pid of
//! the process that wrote it and a CRC-32 of its payload. Chunks are appended with one `write(2)` each, so a
//! process and the children it forks can share one file, and a trace cut short (target killed) still yields
//! every complete chunk. The byte-level specification is `docs/trace-format.md`; this crate is its reference
//! implementation: [`records`] holds the typed payloads with their encoders and decoders, [`reader`] walks a
//! file and recovers from truncation, [`varint`] is the integer encoding both use. [`settings`] is how the
//! CLI tells the agent where to write and what to record.

#![no_std]

extern crate alloc;

pub mod packed;
pub mod reader;
pub mod records;
pub mod settings;
pub mod varint;

pub use reader::{read_chunks_from, read_trace, TraceError, TraceFile};
pub use records::*;

/// First 8 bytes of every trace file.
pub const MAGIC: [u8; 8] = *b"LKSTRACE";
/// Format version written in the file header. Readers reject other major versions.
pub const VERSION: u16 = 1;
/// Size of the file header: magic, version (u16), flags (u16), reserved (u32).
pub const FILE_HEADER_LEN: usize = 16;
/// Size of a chunk header: payload length (u32), kind (u16), flags (u16), pid (u32), CRC-32 of payload (u32).
pub const CHUNK_HEADER_LEN: usize = 16;
/// Largest payload a reader accepts; anything larger is treated as corruption.
pub const MAX_PAYLOAD: u32 = 256 << 20;

/// The file header bytes for a new trace.
pub fn file_header() -> [u8; FILE_HEADER_LEN] {
    let mut h = [0u8; FILE_HEADER_LEN];
    h[..8].copy_from_slice(&MAGIC);
    h[8..10].copy_from_slice(&VERSION.to_le_bytes());
    h
}

/// Frames `payload` as one chunk (header + payload) into `out`, ready for a single `write(2)`.
pub fn frame_chunk(out: &mut alloc::vec::Vec<u8>, kind: ChunkKind, pid: u32, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&(kind as u16).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&pid.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}
