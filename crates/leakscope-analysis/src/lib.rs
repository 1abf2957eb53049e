//! leakscope's analyzer: turns a decoded trace into per-process reports.
//!
//! [`model`] folds the chunks of each process image (following fork and exec), [`symbolize`] resolves return
//! addresses to source frames offline (DWARF with inlined calls, separate debug files via [`debuginfo`],
//! symbol tables), [`frames`] drops allocator plumbing and finds the allocation site, and [`analyze`] builds
//! the sorted, merged loss records and summaries the renderers print.

pub mod analyze;
pub mod debuginfo;
pub mod fasthash;
pub mod frames;
pub mod growth;
pub mod model;
pub mod modules;
pub mod sites;
pub mod symbolize;

pub use analyze::{
    analyze, analyze_processes, analyze_with, report_stack, signal_name, Analysis, CheckReport,
    Delta, HeapReport, LiveSite, LossRecord, Options, ProcessReport, Summary, Totals,
};
pub use growth::{Growth, Verdict};
pub use leakscope_trace::{ExitStatus, LeakKind, Level, Message, ScanStats};
pub use sites::{
    AgeReport, Births, OmittedSites, SiteReport, TimelineReport, CURVE_SNAPSHOTS, MAX_SITES,
};
pub use symbolize::{demangle, Frame, Stack, Symbolizer};
