//! The harness's output buffer, which is also every node's logger (etcd's
//! RedirectLogger): log lines and harness text interleave in one stream.

use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::logger::{Level, Logger};

/// Level names in etcd's order; index 5 (NONE) silences everything.
pub const LEVEL_NAMES: [&str; 6] = ["DEBUG", "INFO", "WARN", "ERROR", "FATAL", "NONE"];

/// Collected output and the current log level.
#[derive(Debug, Default)]
pub struct Output {
    /// Text produced by the current command.
    pub buf: String,
    /// Index into [`LEVEL_NAMES`]: lines below it are dropped.
    pub lvl: usize,
}

impl Output {
    /// Whether all output is suppressed (level NONE).
    pub fn quiet(&self) -> bool {
        self.lvl == LEVEL_NAMES.len() - 1
    }

    /// Appends harness text unless quiet.
    pub fn write(&mut self, s: &str) {
        if !self.quiet() {
            self.buf.push_str(s);
        }
    }
}

fn level_index(l: Level) -> usize {
    match l {
        Level::Debug => 0,
        Level::Info => 1,
        Level::Warn => 2,
        Level::Error => 3,
    }
}

/// A [`Logger`] writing "LEVEL text" lines into the shared output.
pub struct OutputLogger(pub Arc<Mutex<Output>>);

impl Logger for OutputLogger {
    fn enabled(&self, level: Level) -> bool {
        self.0.lock().lvl <= level_index(level)
    }

    fn log(&self, level: Level, args: fmt::Arguments<'_>) {
        let mut out = self.0.lock();
        if out.lvl <= level_index(level) {
            let line = format!("{} {}\n", LEVEL_NAMES[level_index(level)], args);
            out.buf.push_str(&line);
        }
    }
}
