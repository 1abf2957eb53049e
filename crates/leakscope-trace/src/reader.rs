//! Walks a trace file chunk by chunk, keeping every complete, intact chunk and saying where and why it stopped.

use crate::records::{ChunkKind, Record};
use crate::{CHUNK_HEADER_LEN, FILE_HEADER_LEN, MAGIC, MAX_PAYLOAD, VERSION};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// One decoded chunk and the process that wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub pid: u32,
    /// Byte offset of the chunk header in the file.
    pub offset: u64,
    pub record: Record,
}

/// Everything readable in a trace, in file order, plus what was skipped or cut off.
#[derive(Debug, Clone, Default)]
pub struct TraceFile {
    pub chunks: Vec<Chunk>,
    /// One line each: truncation, corruption, unknown chunk kinds.
    pub warnings: Vec<String>,
    /// The file ended inside a chunk (the writer was killed mid-write, or the file was cut).
    pub truncated: bool,
}

/// Reasons a file cannot be read as a trace at all.
#[derive(Debug)]
pub enum TraceError {
    Empty,
    NotATrace,
    UnsupportedVersion(u16),
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(
                f,
                "the trace is empty: the program wrote nothing (was it killed before the agent started?)"
            ),
            Self::NotATrace => write!(f, "not a leakscope trace (bad magic bytes): pass a file written by `leakscope run --trace`"),
            Self::UnsupportedVersion(v) => write!(
                f,
                "trace format version {v} is not supported by this leakscope (reads version {VERSION}): use the leakscope that recorded it"
            ),
        }
    }
}

impl core::error::Error for TraceError {}

/// Decodes a trace held in memory. Stops at the first incomplete or corrupt chunk with a warning; everything
/// before it is returned.
pub fn read_trace(bytes: &[u8]) -> Result<TraceFile, TraceError> {
    check_header(bytes)?;
    let mut out = TraceFile::default();
    let mut pos = FILE_HEADER_LEN;
    while pos < bytes.len() {
        match next_chunk(bytes, pos) {
            Step::Chunk {
                pid,
                kind,
                payload,
                next,
            } => {
                push_record(&mut out, pid, pos as u64, kind, payload);
                pos = next;
            }
            Step::Truncated => {
                out.truncated = true;
                out.warnings.push(format!(
                    "trace truncated at byte {pos} of {}: the program was probably killed; kept the {} complete chunks before it",
                    bytes.len(),
                    out.chunks.len()
                ));
                break;
            }
            Step::Corrupt(why) => {
                out.warnings.push(format!(
                    "trace corrupt at byte {pos} ({why}); kept the {} chunks before it",
                    out.chunks.len()
                ));
                break;
            }
        }
    }
    Ok(out)
}

/// Whether `bytes` begin with the file header of a trace this version reads.
fn check_header(bytes: &[u8]) -> Result<(), TraceError> {
    if bytes.is_empty() {
        return Err(TraceError::Empty);
    }
    if bytes.len() < FILE_HEADER_LEN || bytes[..8] != MAGIC {
        return Err(TraceError::NotATrace);
    }
    match u16::from_le_bytes([bytes[8], bytes[9]]) {
        VERSION => Ok(()),
        version => Err(TraceError::UnsupportedVersion(version)),
    }
}

/// The complete, intact chunks of a trace that may still be being written, from byte `from` (0, or an
/// offset this returned before) on, and the offset just past the last of them: for following a trace while
/// its program runs. Nothing if the file header is not (yet) a trace's.
pub fn read_chunks_from(bytes: &[u8], from: usize) -> (Vec<Chunk>, usize) {
    if check_header(bytes).is_err() {
        return (Vec::new(), from);
    }
    let mut out = TraceFile::default();
    let mut pos = from.max(FILE_HEADER_LEN);
    while let Step::Chunk {
        pid,
        kind,
        payload,
        next,
    } = next_chunk(bytes, pos)
    {
        push_record(&mut out, pid, pos as u64, kind, payload);
        pos = next;
    }
    (out.chunks, pos)
}

enum Step<'a> {
    Chunk {
        pid: u32,
        kind: u16,
        payload: &'a [u8],
        next: usize,
    },
    Truncated,
    Corrupt(&'static str),
}

fn next_chunk(bytes: &[u8], pos: usize) -> Step<'_> {
    let Some(h) = bytes.get(pos..pos + CHUNK_HEADER_LEN) else {
        return Step::Truncated;
    };
    let le32 = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let len = le32(0);
    let kind = u16::from_le_bytes([h[4], h[5]]);
    let (pid, crc) = (le32(8), le32(12));
    if len > MAX_PAYLOAD {
        return Step::Corrupt("impossible chunk length");
    }
    let start = pos + CHUNK_HEADER_LEN;
    let Some(payload) = bytes.get(start..start + len as usize) else {
        return Step::Truncated;
    };
    if crc32fast::hash(payload) != crc {
        return Step::Corrupt("checksum mismatch");
    }
    Step::Chunk {
        pid,
        kind,
        payload,
        next: start + len as usize,
    }
}

fn push_record(out: &mut TraceFile, pid: u32, offset: u64, kind: u16, payload: &[u8]) {
    let Some(k) = ChunkKind::from_u16(kind) else {
        out.warnings.push(format!("skipped a chunk of unknown kind {kind} at byte {offset} (written by a newer leakscope?)"));
        return;
    };
    match Record::decode(k, payload) {
        Ok(record) => out.chunks.push(Chunk {
            pid,
            offset,
            record,
        }),
        Err(_) => out
            .warnings
            .push(format!("skipped a malformed {k:?} chunk at byte {offset}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::*;
    use crate::{file_header, frame_chunk};
    use alloc::vec;

    fn sample() -> Vec<Record> {
        vec![
            Record::ProcessStart(ProcessStart {
                ppid: 1,
                origin: Origin::Exec,
                time_unix_ns: 42,
                exe: "/bin/x".into(),
                args: vec!["x".into(), "-v".into()],
                agent_version: "0.1.0".into(),
                sample_rate: 0,
            }),
            Record::Modules(Modules {
                events: vec![ModuleEvent {
                    loaded: true,
                    start: 0x400000,
                    end: 0x500000,
                    bias: 0,
                    path: "/bin/x".into(),
                    build_id: vec![1, 2, 3],
                }],
            }),
            Record::Stacks(Stacks {
                stacks: vec![StackDef {
                    id: 7,
                    frames: vec![0x401000, 0x400f00, 0x7fff_0000_1234],
                }],
            }),
            Record::Snapshot(Snapshot {
                time_ns: 5,
                rss: 1 << 20,
                sites: vec![SiteSample {
                    stack: 7,
                    live_bytes: 100,
                    live_blocks: 1,
                    allocs: 3,
                    alloc_bytes: 300,
                }],
                tick: Some(3),
            }),
            Record::Snapshot(Snapshot {
                time_ns: 6,
                rss: 1 << 20,
                sites: vec![],
                tick: None,
            }),
            Record::Ages(Ages {
                trigger: AgesTrigger::Check,
                time_ns: 7,
                tick: 40,
                width: 2,
                sites: vec![SiteAges {
                    stack: 7,
                    buckets: vec![(0, 10, 1), (3, 200, 4), (20, 5, 1)],
                }],
            }),
            Record::Leaks(Leaks {
                trigger: Trigger::Exit,
                time_ns: 9,
                records: vec![LossRecord {
                    kind: LeakKind::Possible,
                    stack: 7,
                    bytes: 100,
                    blocks: 1,
                    indirect_bytes: 0,
                }],
                stats: ScanStats {
                    root_bytes: 1,
                    heap_bytes: 2,
                    pause_ns: 3,
                    threads: 4,
                },
            }),
            Record::ProcessEnd(ProcessEnd {
                status: ExitStatus::Signal(11),
                time_ns: 10,
                alloc_calls: 3,
                free_calls: 2,
                agent_bytes: 4096,
            }),
            Record::Message(Message {
                level: Level::Warning,
                text: "hi".into(),
            }),
            Record::Estimates(Estimates {
                trigger: Trigger::Exit,
                records: vec![(LeakKind::Definite, 7, 1000, 10)],
            }),
            Record::RunInfo(RunInfo {
                root_pid: 1234,
                status: ExitStatus::Code(3),
                command: vec!["x".into()],
            }),
        ]
    }

    fn recs_len() -> usize {
        sample().len()
    }

    fn encode_all(records: &[Record]) -> Vec<u8> {
        let mut file = file_header().to_vec();
        for r in records {
            let mut payload = Vec::new();
            r.encode(&mut payload);
            frame_chunk(&mut file, r.kind(), 1234, &payload);
        }
        file
    }

    #[test]
    fn roundtrip_every_kind() {
        let recs = sample();
        let t = read_trace(&encode_all(&recs)).unwrap();
        assert!(t.warnings.is_empty() && !t.truncated);
        let got: Vec<Record> = t.chunks.iter().map(|c| c.record.clone()).collect();
        assert_eq!(got, recs);
        assert!(t.chunks.iter().all(|c| c.pid == 1234));
    }

    #[test]
    fn truncation_keeps_complete_chunks() {
        let recs = sample();
        let full = encode_all(&recs);
        let whole = encode_all(&recs[..6]).len();
        for cut in whole + 1..whole + 20 {
            let t = read_trace(&full[..cut]).unwrap();
            assert!(t.truncated, "cut at {cut}");
            assert_eq!(t.chunks.len(), 6);
        }
    }

    #[test]
    fn following_a_growing_trace_sees_each_chunk_once() {
        let recs = sample();
        let full = encode_all(&recs);
        let mut seen = Vec::new();
        let mut pos = 0;
        for cut in (0..=full.len()).step_by(7).chain([full.len()]) {
            let (chunks, next) = read_chunks_from(&full[..cut], pos);
            seen.extend(chunks.into_iter().map(|c| c.record));
            pos = next;
        }
        assert_eq!(seen, recs);
        assert_eq!(pos, full.len());
    }

    #[test]
    fn periodic_ages_thin_out() {
        let due: Vec<u64> = (0..20_000).filter(|&t| periodic_ages_due(t)).collect();
        assert_eq!(
            due,
            [64, 128, 256, 512, 1024, 2048, 4096, 8192, 12288, 16384]
        );
    }

    #[test]
    fn garbage_and_bitflips() {
        assert!(matches!(
            read_trace(b"hello world, not a trace"),
            Err(TraceError::NotATrace)
        ));
        assert!(matches!(read_trace(b""), Err(TraceError::Empty)));
        let mut f = encode_all(&sample());
        let n = f.len();
        f[n - 2] ^= 0x40;
        let t = read_trace(&f).unwrap();
        assert_eq!(t.chunks.len(), recs_len() - 1);
        assert!(t.warnings[0].contains("checksum"));
    }
}
