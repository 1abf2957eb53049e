//! Renderers of a leakscope analysis: [`text`] for the terminal (Memcheck's layout, most bytes first) and
//! [`json`] for tools. Both take the [`Analysis`] plus what only the caller knows ([`Context`]).

pub mod json;
pub mod text;

pub use leakscope_analysis::Analysis;

/// What the renderers need beyond the analysis.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The program's exit status as a shell shows it (128+N after signal N), if known.
    pub exit_code: Option<i32>,
    /// Path of the trace the report was made from.
    pub trace: Option<String>,
    /// Warnings of the caller (e.g. "statically linked: nothing recorded"), shown before all others.
    pub warnings: Vec<String>,
    /// List still-reachable records too (text only: JSON always lists every kind).
    pub show_reachable: bool,
    /// Use ANSI colors (text only).
    pub color: bool,
}
