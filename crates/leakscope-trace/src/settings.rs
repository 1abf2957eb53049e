//! The settings `leakscope run` hands the agent, in one environment variable (`LEAKSCOPE`), so that the
//! program's environment grows by as few variables as Valgrind adds (a shell keeps a block per variable,
//! and a program's heap should look the same under both tools).
//!
//! The value is `key=value` fields separated by `;`, with `trace` (a path, which may contain `;`) last:
//! `cli=4242;interval=1000;rate=0;follow=1;signal=62;trace=/tmp/leakscope.prog.4242.lstrace`.

use alloc::string::String;

/// Name of the environment variable.
pub const VAR: &str = "LEAKSCOPE";

/// What the agent is told.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// Pid of the `leakscope run` that started the program.
    pub cli: u32,
    /// Snapshot interval in ms (0: none).
    pub interval_ms: u64,
    /// Sampling rate in bytes (0: every allocation).
    pub sample_rate: u64,
    /// Trace the programs forked children exec.
    pub follow_exec: bool,
    /// The live-check signal, if not the default.
    pub check_signal: Option<i32>,
    /// The trace file.
    pub trace: String,
}

impl Settings {
    /// The variable's value.
    pub fn encode(&self) -> String {
        let mut out = alloc::format!(
            "cli={};interval={};rate={};follow={}",
            self.cli,
            self.interval_ms,
            self.sample_rate,
            self.follow_exec as u8
        );
        if let Some(sig) = self.check_signal {
            out.push_str(&alloc::format!(";signal={sig}"));
        }
        out.push_str(";trace=");
        out.push_str(&self.trace);
        out
    }
}

/// The value of field `key` in an encoded value (bytes, as the agent reads its environment).
pub fn field<'a>(value: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let mut rest = value;
    loop {
        let (name, tail) = split_once(rest, b'=')?;
        if name == b"trace" {
            return (key == "trace").then_some(tail); // the last field: the rest is the path
        }
        let (v, next) = split_once(tail, b';').unwrap_or((tail, &[]));
        if name == key.as_bytes() {
            return Some(v);
        }
        if next.is_empty() {
            return None;
        }
        rest = next;
    }
}

/// A numeric field.
pub fn number(value: &[u8], key: &str) -> Option<u64> {
    core::str::from_utf8(field(value, key)?).ok()?.parse().ok()
}

fn split_once(s: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let i = s.iter().position(|&b| b == sep)?;
    Some((&s[..i], &s[i + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_with_separators_in_the_path() {
        let s = Settings {
            cli: 4242,
            interval_ms: 100,
            sample_rate: 524288,
            follow_exec: true,
            check_signal: Some(12),
            trace: String::from("/tmp/a;b=c/x.lstrace"),
        };
        let v = s.encode();
        let b = v.as_bytes();
        assert_eq!(number(b, "cli"), Some(4242));
        assert_eq!(number(b, "interval"), Some(100));
        assert_eq!(number(b, "rate"), Some(524288));
        assert_eq!(number(b, "follow"), Some(1));
        assert_eq!(number(b, "signal"), Some(12));
        assert_eq!(field(b, "trace"), Some(&b"/tmp/a;b=c/x.lstrace"[..]));
        assert_eq!(field(b, "missing"), None);
        let plain = Settings::default().encode();
        assert_eq!(number(plain.as_bytes(), "signal"), None);
        assert_eq!(field(plain.as_bytes(), "trace"), Some(&b""[..]));
    }
}
