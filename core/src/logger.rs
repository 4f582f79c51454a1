//! Pluggable logging with etcd's levels. The texts logged by the state
//! machine are etcd's word for word; a [`Logger`] decides where they go.

use std::fmt;
use std::sync::Arc;

/// Severity of a log line, ordered from most to least verbose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Per-message detail (etcd's Debug).
    Debug,
    /// State changes: elections, leadership, configuration (etcd's Info).
    Info,
    /// Unexpected but handled situations (etcd's Warning).
    Warn,
    /// Failures the node reports and survives or refuses work after.
    Error,
}

impl Level {
    /// The upper-case name etcd's test logger prints before each line.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Receives the node's log lines. Implementations must be cheap when a level
/// is disabled: `enabled` is consulted before any formatting happens.
pub trait Logger: Send + Sync {
    /// Whether lines at `level` are wanted at all.
    fn enabled(&self, level: Level) -> bool;
    /// Writes one line (without trailing newline).
    fn log(&self, level: Level, args: fmt::Arguments<'_>);
}

/// Writes Info and above to standard error, like etcd's default logger.
#[derive(Debug, Default, Clone, Copy)]
pub struct StderrLogger;

impl Logger for StderrLogger {
    fn enabled(&self, level: Level) -> bool {
        level >= Level::Info
    }
    fn log(&self, level: Level, args: fmt::Arguments<'_>) {
        eprintln!("raft {level}: {args}");
    }
}

/// Discards everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopLogger;

impl Logger for NoopLogger {
    fn enabled(&self, _: Level) -> bool {
        false
    }
    fn log(&self, _: Level, _: fmt::Arguments<'_>) {}
}

/// The logger a node uses when its Config names none.
pub fn default_logger() -> Arc<dyn Logger> {
    Arc::new(StderrLogger)
}

/// Logs at a level, formatting only when the level is enabled:
/// `rlog!(logger, Info, "{} became leader at term {}", id, term)`.
#[macro_export]
macro_rules! rlog {
    ($logger:expr, $lvl:ident, $($arg:tt)+) => {{
        let l = &$logger;
        if l.enabled($crate::logger::Level::$lvl) {
            l.log($crate::logger::Level::$lvl, format_args!($($arg)+));
        }
    }};
}
