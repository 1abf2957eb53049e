//! The text and JSON renderers on a hand-made analysis: exact text, the JSON contract's names and shapes.

use leakscope_analysis::{
    Analysis, ExitStatus, Frame, LeakKind, Level, LossRecord, Message, ProcessReport, Summary,
};
use leakscope_report::{json, text, Context};
use serde_json::{json, Value};

fn frame(function: Option<&str>, file: Option<&str>, line: Option<u32>, inlined: bool) -> Frame {
    Frame {
        address: 0x401136,
        function: function.map(Into::into),
        file: file.map(Into::into),
        line,
        module: Some("/bin/prog".into()),
        inlined,
    }
}

fn record(
    kind: LeakKind,
    bytes: u64,
    blocks: u64,
    indirect_bytes: u64,
    stack: Vec<Frame>,
    site: Option<usize>,
) -> LossRecord {
    LossRecord {
        kind,
        bytes,
        blocks,
        indirect_bytes,
        stack: stack.into(),
        site,
        stack_ids: vec![1],
        estimate: None,
        unsampled: false,
    }
}

fn process(pid: u32, forked: bool, status: ExitStatus, records: Vec<LossRecord>) -> ProcessReport {
    let mut summary = Summary::default();
    records
        .iter()
        .for_each(|r| summary.add(r.kind, r.bytes, r.blocks));
    ProcessReport {
        pid,
        ppid: if forked { 100 } else { 1 },
        forked,
        exe: "/bin/prog".into(),
        args: vec!["prog".into(), "-v".into()],
        status: Some(status),
        records,
        summary: Some(summary),
        scan: None,
        heap: None,
        end: None,
        warnings: vec![],
        messages: vec![],
        timeline: None,
        sites: vec![],
        sites_omitted: Default::default(),
        check: None,
    }
}

fn sample() -> Analysis {
    let inl = frame(Some("make"), Some("/src/inl.c"), Some(7), true);
    let outer = frame(Some("outer"), Some("/src/inl.c"), Some(13), false);
    let libc = Frame {
        module: Some("/lib/libc.so.6".into()),
        ..frame(Some("strdup"), None, None, false)
    };
    let unknown = Frame {
        module: None,
        ..frame(None, None, None, false)
    };
    let mut root = process(
        100,
        false,
        ExitStatus::Code(0),
        vec![
            record(
                LeakKind::Reachable,
                500,
                5,
                0,
                vec![libc.clone(), outer.clone()],
                Some(1),
            ),
            record(
                LeakKind::Definite,
                24,
                1,
                48,
                vec![inl, outer.clone()],
                Some(0),
            ),
            record(LeakKind::Possible, 8, 1, 0, vec![unknown], None),
        ],
    );
    root.messages.push(Message {
        level: Level::Warning,
        text: "no allocation was intercepted".into(),
    });
    let child = process(
        101,
        true,
        ExitStatus::Signal(11),
        vec![record(LeakKind::Definite, 16, 2, 0, vec![outer], Some(0))],
    );
    Analysis {
        root: Some(root),
        children: vec![child],
        warnings: vec!["trace truncated at byte 9".into()],
    }
}

const EXPECTED: &str = "\
leakscope: warning: trace truncated at byte 9
== process 100: prog -v exited with status 0 ==
leakscope: warning (agent): no allocation was intercepted

HEAP SUMMARY:
    in use at exit: 532 bytes in 7 blocks

72 (24 direct, 48 indirect) bytes in 1 blocks are definitely lost in loss record 1 of 2
   at make (inl.c:7) [inlined]
   by outer (inl.c:13)

8 bytes in 1 blocks are possibly lost in loss record 2 of 2
   at 0x401136

LEAK SUMMARY:
   definitely lost: 24 bytes in 1 blocks
   indirectly lost: 0 bytes in 0 blocks
     possibly lost: 8 bytes in 1 blocks
   still reachable: 500 bytes in 5 blocks
Still-reachable blocks are not listed: use --show-reachable to list them

== child process 101 (forked from 100): prog -v killed by SIGSEGV (exit status 139) ==

HEAP SUMMARY:
    in use at exit: 16 bytes in 2 blocks

16 bytes in 2 blocks are definitely lost in loss record 1 of 1
   at outer (inl.c:13)

LEAK SUMMARY:
   definitely lost: 16 bytes in 2 blocks
   indirectly lost: 0 bytes in 0 blocks
     possibly lost: 0 bytes in 0 blocks
   still reachable: 0 bytes in 0 blocks
";

#[test]
fn text_report_is_memcheck_like() {
    assert_eq!(text::render(&sample(), &Context::default()), EXPECTED);
}

#[test]
fn text_lists_reachable_on_request_and_marks_the_site() {
    let ctx = Context {
        show_reachable: true,
        trace: Some("t.lstrace".into()),
        ..Context::default()
    };
    let out = text::render(&sample(), &ctx);
    assert!(out.contains(
        "500 bytes in 5 blocks are still reachable in loss record 1 of 3\n   at strdup (in /lib/libc.so.6)\n   by outer (inl.c:13)  <- allocation site\n"
    ));
    assert!(!out.contains("use --show-reachable"));
    assert!(out.ends_with(
        "leakscope: trace kept in t.lstrace (view it again with `leakscope report t.lstrace`)\n"
    ));
    assert!(!out.contains('\x1b'));
    let colored = text::render(
        &sample(),
        &Context {
            color: true,
            ..Context::default()
        },
    );
    assert!(colored.contains("\x1b[1;31mdefinitely lost\x1b[0m in loss record 1 of 2"));
}

#[test]
fn json_keeps_the_contract() {
    let ctx = Context {
        exit_code: Some(0),
        trace: Some("t.lstrace".into()),
        ..Context::default()
    };
    let v: Value = serde_json::from_str(&json::render(&sample(), &ctx)).unwrap();
    assert_eq!(v["tool"]["name"], "leakscope");
    assert_eq!(v["tool"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["exit_code"], 0);
    assert_eq!(v["pid"], 100);
    assert_eq!(
        v["summary"],
        json!({"definite": {"bytes": 24, "blocks": 1}, "indirect": {"bytes": 0, "blocks": 0},
               "possible": {"bytes": 8, "blocks": 1}, "reachable": {"bytes": 500, "blocks": 5}})
    );
    let leaks = v["leaks"].as_array().unwrap();
    let kinds: Vec<&str> = leaks.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["reachable", "definite", "possible"],
        "every kind, in the analysis's order"
    );
    assert_eq!(
        (
            leaks[1]["bytes"].clone(),
            leaks[1]["blocks"].clone(),
            leaks[1]["indirect_bytes"].clone()
        ),
        (json!(24), json!(1), json!(48))
    );
    assert_eq!(
        leaks[1]["stack"][0],
        json!({"function": "make", "file": "inl.c", "line": 7, "module": "/bin/prog", "path": "/src/inl.c",
               "address": "0x401136", "inlined": true})
    );
    assert_eq!(leaks[0]["site"]["function"], "outer");
    let unknown = &leaks[2]["stack"][0];
    assert!(
        unknown["function"].is_null() && unknown["file"].is_null() && unknown["line"].is_null()
    );
    assert!(leaks[2]["site"].is_null());
    assert_eq!(v["warnings"], json!(["trace truncated at byte 9"]));
    assert_eq!(
        v["messages"],
        json!([{"level": "warning", "text": "no allocation was intercepted"}])
    );
    let child = &v["children"][0];
    assert_eq!(
        (child["pid"].clone(), child["exit_code"].clone()),
        (json!(101), json!(139))
    );
    assert_eq!(
        child["summary"]["definite"],
        json!({"bytes": 16, "blocks": 2})
    );
    assert_eq!(child["leaks"][0]["stack"][0]["line"], 13);
}

#[test]
fn json_without_recording_still_has_every_field() {
    let ctx = Context {
        exit_code: Some(137),
        warnings: vec!["statically linked".into()],
        ..Context::default()
    };
    let v: Value = serde_json::from_str(&json::render(&Analysis::default(), &ctx)).unwrap();
    assert_eq!(v["exit_code"], 137);
    assert_eq!(v["recorded"], false);
    assert!(v["pid"].is_null());
    assert_eq!(v["leaks"], json!([]));
    assert_eq!(v["children"], json!([]));
    assert_eq!(v["summary"]["possible"], json!({"bytes": 0, "blocks": 0}));
    assert_eq!(v["warnings"], json!(["statically linked"]));
}
