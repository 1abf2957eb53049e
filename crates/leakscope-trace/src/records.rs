//! Typed chunk payloads and their encodings.
//!
//! Every payload is a sequence of LEB128 integers and length-prefixed strings in the order of the struct's
//! fields. Compatibility rule: a later minor version may append fields at the *end* of a payload (after every
//! list); decoders ignore payload bytes they do not know. Anything else gets a new [`ChunkKind`].

use crate::varint::{put_bytes, put_i64, put_u64, Cursor, Malformed};
use alloc::string::String;
use alloc::vec::Vec;

/// What a chunk holds. Unknown kinds are skipped by readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum ChunkKind {
    ProcessStart = 1,
    Modules = 2,
    Stacks = 3,
    Snapshot = 4,
    Leaks = 5,
    ProcessEnd = 6,
    Message = 7,
    RunInfo = 8,
    Estimates = 9,
    Ages = 10,
}

impl ChunkKind {
    pub fn from_u16(v: u16) -> Option<Self> {
        Some(match v {
            1 => Self::ProcessStart,
            2 => Self::Modules,
            3 => Self::Stacks,
            4 => Self::Snapshot,
            5 => Self::Leaks,
            6 => Self::ProcessEnd,
            7 => Self::Message,
            8 => Self::RunInfo,
            9 => Self::Estimates,
            10 => Self::Ages,
            _ => return None,
        })
    }
}

/// How the image that writes the following chunks came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A fresh program image (the first one, or one that replaced its predecessor by `exec`).
    Exec = 0,
    /// A `fork()`ed copy of the parent process (inherits the parent's live blocks).
    Fork = 1,
}

/// First chunk of every process image: who it is. A later `ProcessStart` with the same pid and origin
/// `Exec` means the image was replaced and everything recorded for the old one is void.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessStart {
    pub ppid: u32,
    pub origin: Origin,
    /// Wall clock at agent start-up, ns since the Unix epoch.
    pub time_unix_ns: u64,
    pub exe: String,
    pub args: Vec<String>,
    pub agent_version: String,
    /// Stack sampling rate in bytes (0: every allocation has its stack).
    pub sample_rate: u64,
}

/// A module (executable or shared object) mapped into or removed from the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleEvent {
    pub loaded: bool,
    /// Lowest and one-past-highest address of its mapped segments.
    pub start: u64,
    pub end: u64,
    /// Load bias: runtime address minus the address in the ELF file.
    pub bias: u64,
    pub path: String,
    /// Contents of the NT_GNU_BUILD_ID note (empty when the module has none).
    pub build_id: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Modules {
    pub events: Vec<ModuleEvent>,
}

/// One interned call stack: return addresses, innermost first, absolute in the process.
/// Frame 0 is the return address into the caller of the allocation function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackDef {
    pub id: u32,
    pub frames: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stacks {
    pub stacks: Vec<StackDef>,
}

/// Live memory of one allocation site (stack) at snapshot time, plus its cumulative allocation counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SiteSample {
    pub stack: u32,
    pub live_bytes: u64,
    pub live_blocks: u64,
    pub allocs: u64,
    pub alloc_bytes: u64,
}

/// Heap state at one moment. Sites with nothing live and no allocation since the previous snapshot may be
/// omitted (their values are unchanged from the previous snapshot of the same process image).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// ns since the process image started (monotonic clock).
    pub time_ns: u64,
    /// Resident set size of the process, bytes.
    pub rss: u64,
    pub sites: Vec<SiteSample>,
    /// The agent's snapshot tick when this snapshot was taken: blocks born with this tick were allocated
    /// after it (up to the next periodic snapshot). Periodic snapshots advance it by one; the snapshots of
    /// checks and of the exit keep the current one. Absent (None) in traces of older agents.
    pub tick: Option<u64>,
}

/// Memcheck's four kinds of unfreed block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LeakKind {
    Definite = 0,
    Indirect = 1,
    Possible = 2,
    Reachable = 3,
}

impl LeakKind {
    pub const ALL: [LeakKind; 4] = [
        Self::Definite,
        Self::Indirect,
        Self::Possible,
        Self::Reachable,
    ];

    pub fn from_u64(v: u64) -> Option<Self> {
        Self::ALL.get(usize::try_from(v).ok()?).copied()
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Definite => "definite",
            Self::Indirect => "indirect",
            Self::Possible => "possible",
            Self::Reachable => "reachable",
        }
    }
}

/// Unfreed blocks of one kind allocated at one stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LossRecord {
    pub kind: LeakKind,
    pub stack: u32,
    pub bytes: u64,
    pub blocks: u64,
    /// Bytes of indirectly lost blocks reachable only through this record's blocks (definite records only).
    pub indirect_bytes: u64,
}

/// Why a reachability scan ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The process is ending (exit, _exit, fatal signal).
    Exit = 0,
    /// An on-demand check of the live process.
    Check = 1,
}

/// Cost and coverage of one scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScanStats {
    pub root_bytes: u64,
    pub heap_bytes: u64,
    /// Time the other threads were stopped, ns.
    pub pause_ns: u64,
    pub threads: u32,
}

/// Result of a reachability scan: loss records for every unfreed block, reachable ones included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaks {
    pub trigger: Trigger,
    pub time_ns: u64,
    pub records: Vec<LossRecord>,
    pub stats: ScanStats,
}

/// How a process image ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
    /// Replaced by `exec`; its blocks are gone.
    Exec,
    Unknown,
}

impl ExitStatus {
    /// The status as a shell shows it: the code, or 128+N for death by signal N.
    pub fn shell_code(self) -> Option<i32> {
        match self {
            Self::Code(c) => Some(c & 0xff),
            Self::Signal(s) => Some(128 + s),
            Self::Exec | Self::Unknown => None,
        }
    }
}

/// Last chunk of a process image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessEnd {
    pub status: ExitStatus,
    pub time_ns: u64,
    pub alloc_calls: u64,
    pub free_calls: u64,
    /// Memory the agent mapped for itself, bytes.
    pub agent_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Info = 0,
    Warning = 1,
    Error = 2,
}

/// Something the agent wants the user to know (e.g. "no allocation was intercepted").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub level: Level,
    pub text: String,
}

/// Written by the CLI after the run (pid 0 in the chunk header): which process it started and how that
/// process ended as `waitpid` reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo {
    pub root_pid: u32,
    pub status: ExitStatus,
    pub command: Vec<String>,
}

/// Sampled mode only: what the sampled blocks of each loss record of the preceding `Leaks` chunk stand for
/// (sum over its blocks of size/p and 1/p, p = the block's sampling probability). Unsampled blocks are
/// all in the record of the sentinel stack whose only frame is the address 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Estimates {
    pub trigger: Trigger,
    /// (kind, stack id, estimated bytes, estimated blocks)
    pub records: Vec<(LeakKind, u32, u64, u64)>,
}

/// Why an [`Ages`] record was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgesTrigger {
    Exit = 0,
    Check = 1,
    /// Written by the snapshot thread when [`periodic_ages_due`], so a killed process still has ages.
    Periodic = 2,
}

/// Whether the periodic snapshot of this tick is followed by a periodic [`Ages`] record: at ticks 64, 128,
/// 256, ... 4096, then every 4096 ticks (about an hour at the default interval). A record lists every site
/// with live blocks, so it is written more and more rarely: the trace stays small however many sites hold
/// memory.
pub fn periodic_ages_due(tick: u64) -> bool {
    tick >= 64 && (tick.is_power_of_two() || tick % 4096 == 0)
}

/// Live blocks of one site by birth time: `(bucket, bytes, blocks)`, where bucket `b` holds the blocks born
/// with ticks `b*width .. (b+1)*width` (only non-empty buckets are listed, in increasing order).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SiteAges {
    pub stack: u32,
    pub buckets: Vec<(u32, u64, u64)>,
}

/// How old the live blocks of each site are: a histogram of birth ticks per site (sites with live blocks
/// only). A tick's time is that of the periodic snapshot that carries it; tick 0 is the start of the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ages {
    pub trigger: AgesTrigger,
    pub time_ns: u64,
    /// The current tick (the newest a block can have).
    pub tick: u64,
    /// Ticks per bucket (a power of two, so that at most 32 buckets cover ticks 0..=tick).
    pub width: u64,
    pub sites: Vec<SiteAges>,
}

/// Any decoded chunk payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    ProcessStart(ProcessStart),
    Modules(Modules),
    Stacks(Stacks),
    Snapshot(Snapshot),
    Leaks(Leaks),
    ProcessEnd(ProcessEnd),
    Message(Message),
    RunInfo(RunInfo),
    Estimates(Estimates),
    Ages(Ages),
}

impl Record {
    pub fn kind(&self) -> ChunkKind {
        match self {
            Self::ProcessStart(_) => ChunkKind::ProcessStart,
            Self::Modules(_) => ChunkKind::Modules,
            Self::Stacks(_) => ChunkKind::Stacks,
            Self::Snapshot(_) => ChunkKind::Snapshot,
            Self::Leaks(_) => ChunkKind::Leaks,
            Self::ProcessEnd(_) => ChunkKind::ProcessEnd,
            Self::Message(_) => ChunkKind::Message,
            Self::RunInfo(_) => ChunkKind::RunInfo,
            Self::Estimates(_) => ChunkKind::Estimates,
            Self::Ages(_) => ChunkKind::Ages,
        }
    }

    /// Appends the payload encoding of this record to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::ProcessStart(p) => encode_process_start(p, out),
            Self::Modules(m) => encode_modules(m, out),
            Self::Stacks(s) => encode_stacks(s, out),
            Self::Snapshot(s) => encode_snapshot(s, out),
            Self::Leaks(l) => encode_leaks(l, out),
            Self::Ages(a) => encode_ages(a, out),
            Self::ProcessEnd(e) => encode_process_end(e, out),
            Self::Message(m) => {
                put_u64(out, m.level as u64);
                put_bytes(out, m.text.as_bytes());
            }
            Self::Estimates(e) => {
                put_u64(out, e.trigger as u64);
                put_u64(out, e.records.len() as u64);
                for &(kind, stack, bytes, blocks) in &e.records {
                    put_u64(out, kind as u64);
                    put_u64(out, stack.into());
                    put_u64(out, bytes);
                    put_u64(out, blocks);
                }
            }
            Self::RunInfo(r) => {
                put_u64(out, r.root_pid.into());
                encode_status(r.status, out);
                put_u64(out, r.command.len() as u64);
                r.command.iter().for_each(|a| put_bytes(out, a.as_bytes()));
            }
        }
    }

    /// Decodes a payload of the given kind.
    pub fn decode(kind: ChunkKind, payload: &[u8]) -> Result<Record, Malformed> {
        let c = &mut Cursor::new(payload);
        Ok(match kind {
            ChunkKind::ProcessStart => Self::ProcessStart(decode_process_start(c)?),
            ChunkKind::Modules => Self::Modules(decode_modules(c)?),
            ChunkKind::Stacks => Self::Stacks(decode_stacks(c)?),
            ChunkKind::Snapshot => Self::Snapshot(decode_snapshot(c)?),
            ChunkKind::Leaks => Self::Leaks(decode_leaks(c)?),
            ChunkKind::Ages => Self::Ages(decode_ages(c)?),
            ChunkKind::ProcessEnd => Self::ProcessEnd(decode_process_end(c)?),
            ChunkKind::Message => Self::Message(Message {
                level: match c.u64()? {
                    0 => Level::Info,
                    1 => Level::Warning,
                    _ => Level::Error,
                },
                text: c.string()?,
            }),
            ChunkKind::Estimates => Self::Estimates(Estimates {
                trigger: if c.u64()? == 1 {
                    Trigger::Check
                } else {
                    Trigger::Exit
                },
                records: (0..c.count()?)
                    .map(|_| {
                        Ok((
                            LeakKind::from_u64(c.u64()?).ok_or(Malformed)?,
                            c.u32()?,
                            c.u64()?,
                            c.u64()?,
                        ))
                    })
                    .collect::<Result<_, _>>()?,
            }),
            ChunkKind::RunInfo => Self::RunInfo(RunInfo {
                root_pid: c.u32()?,
                status: decode_status(c)?,
                command: (0..c.count()?)
                    .map(|_| c.string())
                    .collect::<Result<_, _>>()?,
            }),
        })
    }
}

fn encode_process_start(p: &ProcessStart, out: &mut Vec<u8>) {
    put_u64(out, p.ppid.into());
    put_u64(out, p.origin as u64);
    put_u64(out, p.time_unix_ns);
    put_bytes(out, p.exe.as_bytes());
    put_u64(out, p.args.len() as u64);
    p.args.iter().for_each(|a| put_bytes(out, a.as_bytes()));
    put_bytes(out, p.agent_version.as_bytes());
    put_u64(out, p.sample_rate);
}

fn decode_process_start(c: &mut Cursor) -> Result<ProcessStart, Malformed> {
    Ok(ProcessStart {
        ppid: c.u32()?,
        origin: if c.u64()? == 1 {
            Origin::Fork
        } else {
            Origin::Exec
        },
        time_unix_ns: c.u64()?,
        exe: c.string()?,
        args: (0..c.count()?)
            .map(|_| c.string())
            .collect::<Result<_, _>>()?,
        agent_version: c.string()?,
        sample_rate: c.u64()?,
    })
}

fn encode_modules(m: &Modules, out: &mut Vec<u8>) {
    put_u64(out, m.events.len() as u64);
    for e in &m.events {
        put_u64(out, e.loaded as u64);
        put_u64(out, e.start);
        put_u64(out, e.end);
        put_u64(out, e.bias);
        put_bytes(out, e.path.as_bytes());
        put_bytes(out, &e.build_id);
    }
}

fn decode_modules(c: &mut Cursor) -> Result<Modules, Malformed> {
    let events = (0..c.count()?)
        .map(|_| {
            Ok(ModuleEvent {
                loaded: c.u64()? != 0,
                start: c.u64()?,
                end: c.u64()?,
                bias: c.u64()?,
                path: c.string()?,
                build_id: c.bytes()?.to_vec(),
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Modules { events })
}

/// Frames are delta-encoded: the first absolute, each next one as a zigzag difference from the previous.
fn encode_stacks(s: &Stacks, out: &mut Vec<u8>) {
    put_u64(out, s.stacks.len() as u64);
    for st in &s.stacks {
        put_u64(out, st.id.into());
        put_u64(out, st.frames.len() as u64);
        crate::packed::pack(st.frames.iter().copied(), |b| out.push(b));
    }
}

fn decode_stacks(c: &mut Cursor) -> Result<Stacks, Malformed> {
    let mut stacks = Vec::new();
    for _ in 0..c.count()? {
        let id = c.u32()?;
        let n = c.count()?;
        let mut frames = Vec::with_capacity(n);
        let mut prev = 0u64;
        for _ in 0..n {
            prev = prev.wrapping_add(c.i64()? as u64);
            frames.push(prev);
        }
        stacks.push(StackDef { id, frames });
    }
    Ok(Stacks { stacks })
}

fn encode_snapshot(s: &Snapshot, out: &mut Vec<u8>) {
    put_u64(out, s.time_ns);
    put_u64(out, s.rss);
    put_u64(out, s.sites.len() as u64);
    for x in &s.sites {
        put_u64(out, x.stack.into());
        put_u64(out, x.live_bytes);
        put_u64(out, x.live_blocks);
        put_u64(out, x.allocs);
        put_u64(out, x.alloc_bytes);
    }
    if let Some(t) = s.tick {
        put_u64(out, t);
    }
}

fn decode_snapshot(c: &mut Cursor) -> Result<Snapshot, Malformed> {
    let time_ns = c.u64()?;
    let rss = c.u64()?;
    let sites = (0..c.count()?)
        .map(|_| {
            Ok(SiteSample {
                stack: c.u32()?,
                live_bytes: c.u64()?,
                live_blocks: c.u64()?,
                allocs: c.u64()?,
                alloc_bytes: c.u64()?,
            })
        })
        .collect::<Result<_, _>>()?;
    let tick = if c.is_empty() { None } else { Some(c.u64()?) };
    Ok(Snapshot {
        time_ns,
        rss,
        sites,
        tick,
    })
}

/// Bucket indices are delta-encoded within a site (increasing, so each difference is small).
fn encode_ages(a: &Ages, out: &mut Vec<u8>) {
    put_u64(out, a.trigger as u64);
    put_u64(out, a.time_ns);
    put_u64(out, a.tick);
    put_u64(out, a.width);
    put_u64(out, a.sites.len() as u64);
    for s in &a.sites {
        put_u64(out, s.stack.into());
        put_u64(out, s.buckets.len() as u64);
        let mut prev = 0u32;
        for &(b, bytes, blocks) in &s.buckets {
            put_u64(out, b.wrapping_sub(prev).into());
            put_u64(out, bytes);
            put_u64(out, blocks);
            prev = b;
        }
    }
}

fn decode_ages(c: &mut Cursor) -> Result<Ages, Malformed> {
    let trigger = match c.u64()? {
        0 => AgesTrigger::Exit,
        1 => AgesTrigger::Check,
        _ => AgesTrigger::Periodic,
    };
    let (time_ns, tick, width) = (c.u64()?, c.u64()?, c.u64()?);
    let sites = (0..c.count()?)
        .map(|_| {
            let stack = c.u32()?;
            let mut prev = 0u32;
            let buckets = (0..c.count()?)
                .map(|_| {
                    prev = prev.wrapping_add(c.u32()?);
                    Ok((prev, c.u64()?, c.u64()?))
                })
                .collect::<Result<_, _>>()?;
            Ok(SiteAges { stack, buckets })
        })
        .collect::<Result<_, _>>()?;
    Ok(Ages {
        trigger,
        time_ns,
        tick,
        width,
        sites,
    })
}

fn encode_leaks(l: &Leaks, out: &mut Vec<u8>) {
    put_u64(out, l.trigger as u64);
    put_u64(out, l.time_ns);
    put_u64(out, l.records.len() as u64);
    for r in &l.records {
        put_u64(out, r.kind as u64);
        put_u64(out, r.stack.into());
        put_u64(out, r.bytes);
        put_u64(out, r.blocks);
        put_u64(out, r.indirect_bytes);
    }
    put_u64(out, l.stats.root_bytes);
    put_u64(out, l.stats.heap_bytes);
    put_u64(out, l.stats.pause_ns);
    put_u64(out, l.stats.threads.into());
}

fn decode_leaks(c: &mut Cursor) -> Result<Leaks, Malformed> {
    let trigger = if c.u64()? == 1 {
        Trigger::Check
    } else {
        Trigger::Exit
    };
    let time_ns = c.u64()?;
    let records = (0..c.count()?)
        .map(|_| {
            Ok(LossRecord {
                kind: LeakKind::from_u64(c.u64()?).ok_or(Malformed)?,
                stack: c.u32()?,
                bytes: c.u64()?,
                blocks: c.u64()?,
                indirect_bytes: c.u64()?,
            })
        })
        .collect::<Result<_, _>>()?;
    let stats = ScanStats {
        root_bytes: c.u64()?,
        heap_bytes: c.u64()?,
        pause_ns: c.u64()?,
        threads: c.u32()?,
    };
    Ok(Leaks {
        trigger,
        time_ns,
        records,
        stats,
    })
}

fn encode_status(status: ExitStatus, out: &mut Vec<u8>) {
    let (tag, v) = match status {
        ExitStatus::Code(c) => (0, c),
        ExitStatus::Signal(s) => (1, s),
        ExitStatus::Exec => (2, 0),
        ExitStatus::Unknown => (3, 0),
    };
    put_u64(out, tag);
    put_i64(out, v.into());
}

fn decode_status(c: &mut Cursor) -> Result<ExitStatus, Malformed> {
    let tag = c.u64()?;
    let v = i32::try_from(c.i64()?).map_err(|_| Malformed)?;
    Ok(match tag {
        0 => ExitStatus::Code(v),
        1 => ExitStatus::Signal(v),
        2 => ExitStatus::Exec,
        _ => ExitStatus::Unknown,
    })
}

fn encode_process_end(e: &ProcessEnd, out: &mut Vec<u8>) {
    encode_status(e.status, out);
    put_u64(out, e.time_ns);
    put_u64(out, e.alloc_calls);
    put_u64(out, e.free_calls);
    put_u64(out, e.agent_bytes);
}

fn decode_process_end(c: &mut Cursor) -> Result<ProcessEnd, Malformed> {
    Ok(ProcessEnd {
        status: decode_status(c)?,
        time_ns: c.u64()?,
        alloc_calls: c.u64()?,
        free_calls: c.u64()?,
        agent_bytes: c.u64()?,
    })
}
