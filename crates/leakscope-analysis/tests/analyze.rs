//! The process model and the analysis on traces built with the trace crate's own encoders: fork and exec,
//! killed processes, the run record, merging and ordering of loss records.

use leakscope_analysis::{analyze, Analysis, ExitStatus, LeakKind, Options};
use leakscope_trace::*;

fn trace(chunks: &[(u32, Record)]) -> Vec<u8> {
    let mut file = file_header().to_vec();
    for (pid, r) in chunks {
        let mut payload = Vec::new();
        r.encode(&mut payload);
        frame_chunk(&mut file, r.kind(), *pid, &payload);
    }
    file
}

fn run(chunks: &[(u32, Record)], opts: &Options) -> Analysis {
    analyze(&read_trace(&trace(chunks)).unwrap(), opts)
}

fn start(ppid: u32, origin: Origin, exe: &str) -> Record {
    Record::ProcessStart(ProcessStart {
        ppid,
        origin,
        time_unix_ns: 1,
        exe: exe.into(),
        args: vec![exe.into(), "-x".into()],
        agent_version: "0.1.0".into(),
        sample_rate: 0,
    })
}

fn stacks(defs: &[(u32, &[u64])]) -> Record {
    Record::Stacks(Stacks {
        stacks: defs
            .iter()
            .map(|(id, f)| StackDef {
                id: *id,
                frames: f.to_vec(),
            })
            .collect(),
    })
}

fn rec(kind: LeakKind, stack: u32, bytes: u64, blocks: u64, indirect_bytes: u64) -> LossRecord {
    LossRecord {
        kind,
        stack,
        bytes,
        blocks,
        indirect_bytes,
    }
}

fn leaks(trigger: Trigger, records: Vec<LossRecord>) -> Record {
    Record::Leaks(Leaks {
        trigger,
        time_ns: 5,
        records,
        stats: ScanStats::default(),
    })
}

fn end(status: ExitStatus) -> Record {
    Record::ProcessEnd(ProcessEnd {
        status,
        time_ns: 9,
        alloc_calls: 10,
        free_calls: 4,
        agent_bytes: 0,
    })
}

fn modules() -> Record {
    Record::Modules(Modules {
        events: vec![ModuleEvent {
            loaded: true,
            start: 0x1000,
            end: 0x9000,
            bias: 0x1000,
            path: "/nonexistent/prog".into(),
            build_id: vec![],
        }],
    })
}

#[test]
fn records_are_merged_sorted_and_summarized() {
    use LeakKind::*;
    let a = run(
        &[
            (10, start(1, Origin::Exec, "/bin/prog")),
            (10, modules()),
            (
                10,
                stacks(&[
                    (1, &[0x1100, 0x1200]),
                    (2, &[0x1300]),
                    (3, &[0x1100, 0x1200]),
                    (4, &[0x1400]),
                ]),
            ),
            (
                10,
                leaks(Trigger::Check, vec![rec(Definite, 4, 9999, 1, 0)]),
            ),
            (
                10,
                leaks(
                    Trigger::Exit,
                    vec![
                        rec(Definite, 1, 40, 1, 0),
                        rec(Definite, 2, 24, 1, 48),
                        rec(Indirect, 2, 48, 2, 0),
                        rec(Definite, 3, 40, 2, 0),
                        rec(Reachable, 4, 100, 3, 0),
                        rec(Possible, 4, 8, 1, 0),
                    ],
                ),
            ),
            (10, end(ExitStatus::Code(3))),
        ],
        &Options::default(),
    );
    let root = a.root.as_ref().unwrap();
    assert_eq!(root.exit_code(), Some(3));
    assert_eq!(root.command_line(), "/bin/prog -x");
    let got: Vec<_> = root
        .records
        .iter()
        .map(|r| {
            (
                r.kind,
                r.bytes,
                r.blocks,
                r.indirect_bytes,
                r.stack_ids.clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (Reachable, 100, 3, 0, vec![4]),
            (Definite, 80, 3, 0, vec![1, 3]),
            (Definite, 24, 1, 48, vec![2]),
            (Indirect, 48, 2, 0, vec![2]),
            (Possible, 8, 1, 0, vec![4]),
        ]
    );
    let s = root.summary.unwrap();
    assert_eq!((s.get(Definite).bytes, s.get(Definite).blocks), (104, 4));
    assert_eq!((s.get(Indirect).bytes, s.get(Reachable).blocks), (48, 3));
    let f = &root.records[1].stack;
    assert_eq!(
        f.iter().map(|f| f.address).collect::<Vec<_>>(),
        [0x1100, 0x1200]
    );
    assert_eq!(f[0].module.as_deref(), Some("/nonexistent/prog"));
    assert_eq!(root.records[1].site, None);
    assert!(a.has_leaks_of(&[Possible]));
    assert!(!a.has_leaks_of(&[]));
    assert_eq!(
        a.warnings,
        ["cannot read /nonexistent/prog: frames in it are shown as addresses"]
    );
}

/// A report that hides still-reachable records (the default text report) gets them unsymbolized and
/// unmerged, one per stack id; the records it shows, and the summary, are those of the full analysis.
#[test]
fn hidden_reachable_records_keep_no_stack() {
    use LeakKind::*;
    let chunks = [
        (10, start(1, Origin::Exec, "/bin/prog")),
        (10, modules()),
        (
            10,
            stacks(&[(1, &[0x1100, 0x1200]), (3, &[0x1100, 0x1200])]),
        ),
        (
            10,
            leaks(
                Trigger::Exit,
                vec![
                    rec(Definite, 1, 40, 1, 0),
                    rec(Definite, 3, 40, 2, 0),
                    rec(Reachable, 1, 100, 3, 0),
                    rec(Reachable, 3, 50, 1, 0),
                ],
            ),
        ),
        (10, end(ExitStatus::Code(0))),
    ];
    let shown = |all_stacks: bool| {
        let a = run(
            &chunks,
            &Options {
                all_stacks,
                ..Options::default()
            },
        );
        let root = a.root.unwrap();
        let records: Vec<_> = root
            .records
            .iter()
            .map(|r| {
                (
                    r.kind,
                    r.bytes,
                    r.blocks,
                    r.stack_ids.clone(),
                    r.stack.len(),
                )
            })
            .collect();
        (records, root.summary.unwrap())
    };
    let (full, full_summary) = shown(true);
    assert_eq!(
        full,
        [
            (Reachable, 150, 4, vec![1, 3], 2),
            (Definite, 80, 3, vec![1, 3], 2)
        ]
    );
    let (text, text_summary) = shown(false);
    assert_eq!(
        text,
        [
            (Reachable, 100, 3, vec![1], 0),
            (Definite, 80, 3, vec![1, 3], 2),
            (Reachable, 50, 1, vec![3], 0),
        ]
    );
    assert_eq!(text_summary, full_summary);
}

#[test]
fn fork_exec_and_exec_away() {
    let a = run(
        &[
            (10, start(1, Origin::Exec, "/bin/sh")),
            (
                10,
                leaks(Trigger::Exit, vec![rec(LeakKind::Definite, 1, 1, 1, 0)]),
            ),
            // The shell exec'ed the program: the shell's image is void.
            (10, start(1, Origin::Exec, "/bin/prog")),
            (10, stacks(&[(7, &[0x1])])),
            (11, start(10, Origin::Fork, "/bin/prog")),
            (12, start(10, Origin::Fork, "/bin/prog")),
            (12, end(ExitStatus::Exec)),
            (
                11,
                leaks(Trigger::Exit, vec![rec(LeakKind::Definite, 7, 16, 1, 0)]),
            ),
            (11, end(ExitStatus::Code(0))),
            (10, leaks(Trigger::Exit, vec![])),
            (10, end(ExitStatus::Code(0))),
        ],
        &Options::default(),
    );
    let root = a.root.as_ref().unwrap();
    assert_eq!(
        (root.pid, root.exe.as_str(), root.records.len()),
        (10, "/bin/prog", 0)
    );
    assert_eq!(
        a.children.len(),
        1,
        "the exec'ed-away child 12 is not reported"
    );
    let child = &a.children[0];
    assert_eq!((child.pid, child.ppid, child.forked), (11, 10, true));
    // The child's stack 7 was defined by its parent before the fork.
    assert_eq!(child.records[0].stack[0].address, 0x1);
    assert!(a.has_leaks_of(&[LeakKind::Definite]));
}

#[test]
fn killed_process_reports_its_last_snapshot() {
    let site = |stack, live_bytes, live_blocks| SiteSample {
        stack,
        live_bytes,
        live_blocks,
        allocs: 5,
        alloc_bytes: 500,
    };
    let snap = |time_ns, sites| {
        Record::Snapshot(Snapshot {
            time_ns,
            rss: 4096,
            sites,
            tick: None,
        })
    };
    let chunks = [
        (20, start(1, Origin::Exec, "/bin/prog")),
        (20, stacks(&[(1, &[0x10]), (2, &[0x20]), (3, &[0x30])])),
        (
            20,
            snap(
                1_000_000_000,
                vec![site(1, 100, 1), site(2, 300, 3), site(3, 7, 1)],
            ),
        ),
        // Site 1 omitted: unchanged. Site 3 now freed.
        (
            20,
            snap(2_000_000_000, vec![site(2, 200, 2), site(3, 0, 0)]),
        ),
    ];
    let mut opts = Options::default();
    opts.observed.insert(20, ExitStatus::Signal(9));
    let a = run(&chunks, &opts);
    let root = a.root.as_ref().unwrap();
    assert_eq!(root.exit_code(), Some(137));
    assert!(root.summary.is_none() && root.records.is_empty());
    let heap = root.heap.as_ref().unwrap();
    assert_eq!(
        (heap.bytes, heap.blocks, heap.time_ns),
        (300, 3, 2_000_000_000)
    );
    let sites: Vec<_> = heap
        .sites
        .iter()
        .map(|s| (s.bytes, s.stack[0].address))
        .collect();
    assert_eq!(sites, [(200, 0x20), (100, 0x10)]);
    assert_eq!(
        root.warnings,
        ["process 20 (prog) was killed by SIGKILL before it could scan for leaks: showing the heap in use at its last snapshot, 2.0s after it started (not classified)"]
    );
    // Without the CLI's observation the cause is unknown.
    let a = run(&chunks[..2], &Options::default());
    assert_eq!(
        a.root.unwrap().warnings,
        ["process 20 (prog) ended without writing its leak report (killed by SIGKILL, or the trace was cut short): it recorded no snapshot either, so nothing is known about its heap"]
    );
}

#[test]
fn run_record_names_the_root_and_its_status() {
    let chunks = [
        (31, start(30, Origin::Fork, "/bin/prog")),
        (30, start(1, Origin::Exec, "/bin/prog")),
        (
            0,
            Record::RunInfo(RunInfo {
                root_pid: 30,
                status: ExitStatus::Signal(6),
                command: vec!["prog".into()],
            }),
        ),
    ];
    let a = run(&chunks, &Options::default());
    assert_eq!(a.root.as_ref().unwrap().pid, 30);
    assert_eq!(a.root.as_ref().unwrap().exit_code(), Some(134));
    assert_eq!(a.children.iter().map(|c| c.pid).collect::<Vec<_>>(), [31]);
}

#[test]
fn truncated_trace_keeps_complete_chunks_and_warns() {
    let mut bytes = trace(&[
        (40, start(1, Origin::Exec, "/bin/prog")),
        (
            40,
            leaks(Trigger::Exit, vec![rec(LeakKind::Definite, 1, 8, 1, 0)]),
        ),
        (40, end(ExitStatus::Code(0))),
    ]);
    bytes.truncate(bytes.len() - 3);
    let a = analyze(&read_trace(&bytes).unwrap(), &Options::default());
    let root = a.root.as_ref().unwrap();
    assert_eq!(root.records.len(), 1);
    assert_eq!(root.status, None);
    assert!(
        a.warnings[0].starts_with("trace truncated at byte"),
        "{:?}",
        a.warnings
    );
    assert!(root
        .warnings
        .iter()
        .any(|w| w.contains("stacks are missing")));
}

/// A program with more sites than a report analyzes: the ones with the most memory stay (each whole), the
/// rest are summed up.
#[test]
fn sites_beyond_the_limit_are_the_smallest_and_summed() {
    use leakscope_analysis::MAX_SITES;
    let n = MAX_SITES as u32 + 50;
    // Site i holds 16 * i bytes in i blocks at the end; each has a stack of its own.
    let site = |i: u32| SiteSample {
        stack: i,
        live_bytes: 16 * u64::from(i),
        live_blocks: u64::from(i),
        allocs: u64::from(i),
        alloc_bytes: 16 * u64::from(i),
    };
    let addrs: Vec<[u64; 1]> = (1..=n).map(|i| [0x1000 + u64::from(i)]).collect();
    let defs: Vec<(u32, &[u64])> = (1..=n).map(|i| (i, &addrs[i as usize - 1][..])).collect();
    let snap = |t: u64| {
        Record::Snapshot(Snapshot {
            time_ns: t * 100_000_000,
            rss: 4096,
            sites: (1..=n).map(site).collect(),
            tick: None,
        })
    };
    let mut chunks = vec![
        (20, start(1, Origin::Exec, "/bin/prog")),
        (20, stacks(&defs)),
    ];
    chunks.extend((1..=6).map(|t| (20, snap(t))));
    chunks.push((20, end(ExitStatus::Code(0))));
    let a = run(&chunks, &Options::default());
    let root = a.root.as_ref().unwrap();
    assert_eq!(root.sites.len(), MAX_SITES);
    let smallest = root.sites.iter().map(|s| s.live_bytes).min().unwrap();
    assert_eq!(smallest, 16 * 51);
    let o = root.sites_omitted;
    assert_eq!(
        (o.sites, o.live_blocks, o.live_bytes, o.max_peak_bytes),
        (
            50,
            (1..=50).sum::<u64>(),
            16 * (1..=50).sum::<u64>(),
            16 * 50
        )
    );
}
