//! A reader and runner for the datadriven test format used by etcd raft's
//! scripts (the cockroachdb format):
//!
//! ```text
//! # comment
//! command pos1 key=value list=(1,2,3)
//! optional input lines
//! ----
//! expected output lines
//! <blank line>
//! ```
//!
//! Output that itself holds blank lines is framed by a doubled separator
//! (`----` twice before and after); the reader accepts that form too.

use std::fmt::Write as _;
use std::path::Path;

/// One argument of a command: `key`, `key=value` or `key=(v1,v2,...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdArg {
    /// The argument's name (for a positional argument, its text).
    pub key: String,
    /// The values; empty for a bare key.
    pub vals: Vec<String>,
}

/// One command of a script, with its expected output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCase {
    /// 1-based line of the command, for messages.
    pub line: usize,
    /// The command name (first word).
    pub cmd: String,
    /// The arguments after the command name.
    pub args: Vec<CmdArg>,
    /// The lines between the command and the separator, joined with '\n'.
    pub input: String,
    /// The expected output, each line ending in '\n'.
    pub expected: String,
}

impl TestCase {
    /// The values of argument `key`, if given.
    pub fn arg(&self, key: &str) -> Option<&[String]> {
        self.args.iter().find(|a| a.key == key).map(|a| a.vals.as_slice())
    }

    /// The single value of argument `key` parsed as `T`.
    pub fn scan<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, String> {
        match self.arg(key) {
            None => Ok(None),
            Some([v]) => v
                .parse()
                .map(Some)
                .map_err(|_| format!("line {}: cannot parse {key}={v}", self.line)),
            Some(vs) => Err(format!("line {}: {key} expects one value, got {vs:?}", self.line)),
        }
    }
}

fn parse_args(words: &str) -> Result<Vec<CmdArg>, String> {
    let mut args = Vec::new();
    let mut rest = words.trim();
    while !rest.is_empty() {
        let end = rest.find(|c: char| c == ' ' || c == '=').unwrap_or(rest.len());
        let key = rest[..end].to_string();
        rest = &rest[end..];
        let mut vals = Vec::new();
        if let Some(after) = rest.strip_prefix('=') {
            if let Some(list) = after.strip_prefix('(') {
                let close = list.find(')').ok_or_else(|| format!("unclosed '(' in {words:?}"))?;
                vals = list[..close].split(',').map(|s| s.trim().to_string()).collect();
                rest = &list[close + 1..];
            } else {
                let end = after.find(' ').unwrap_or(after.len());
                vals.push(after[..end].to_string());
                rest = &after[end..];
            }
        }
        args.push(CmdArg { key, vals });
        rest = rest.trim_start();
    }
    Ok(args)
}

/// Parses a whole script.
pub fn parse(text: &str) -> Result<Vec<TestCase>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut cases = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_end();
        if line.is_empty() || line.starts_with('#') {
            i += 1;
            continue;
        }
        let start = i + 1;
        // A trailing backslash continues the command on the next line.
        let mut directive = String::new();
        loop {
            let l = lines[i].trim_end();
            i += 1;
            match l.strip_suffix('\\') {
                Some(head) if i < lines.len() => {
                    directive.push_str(head);
                    directive.push(' ');
                }
                _ => {
                    directive.push_str(l);
                    break;
                }
            }
        }
        let mut input = Vec::new();
        while i < lines.len() && lines[i] != "----" {
            input.push(lines[i]);
            i += 1;
        }
        if i >= lines.len() {
            return Err(format!("line {start}: command {directive:?} has no ---- separator"));
        }
        i += 1;
        let mut expected = String::new();
        if i < lines.len() && lines[i] == "----" {
            // Doubled separator: output runs until "----\n----".
            i += 1;
            while i < lines.len() && !(lines[i] == "----" && lines.get(i + 1) == Some(&"----")) {
                expected.push_str(lines[i]);
                expected.push('\n');
                i += 1;
            }
            i += 2;
        } else {
            while i < lines.len() && !lines[i].is_empty() {
                expected.push_str(lines[i]);
                expected.push('\n');
                i += 1;
            }
        }
        let (cmd, rest) = directive.split_once(' ').unwrap_or((directive.as_str(), ""));
        cases.push(TestCase {
            line: start,
            cmd: cmd.to_string(),
            args: parse_args(rest)?,
            input: input.join("\n"),
            expected,
        });
    }
    Ok(cases)
}

/// Runs every case of the script at `path` through `handler` and compares
/// its output (a trailing newline is added when missing) with the expected
/// text. Returns `Ok(())` when all match, otherwise a report holding a
/// unified diff of each mismatching case.
pub fn run_file(path: &Path, mut handler: impl FnMut(&TestCase) -> String) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let cases = parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut report = String::new();
    for case in &cases {
        let mut got = handler(case);
        if !got.ends_with('\n') {
            got.push('\n');
        }
        if got != case.expected {
            let diff = similar_diff(&case.expected, &got);
            let _ = writeln!(
                report,
                "{}:{}: {} {}\n{diff}",
                path.display(),
                case.line,
                case.cmd,
                case.args.iter().map(|a| a.key.as_str()).collect::<Vec<_>>().join(" ")
            );
        }
    }
    if report.is_empty() {
        Ok(())
    } else {
        Err(report)
    }
}

/// A minimal line diff: "-" lines expected but missing, "+" lines produced
/// but not expected, computed by longest common subsequence.
fn similar_diff(want: &str, got: &str) -> String {
    let a: Vec<&str> = want.lines().collect();
    let b: Vec<&str> = got.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::from("--- expected\n+++ actual\n"));
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            let _ = writeln!(out, " {}", a[i]);
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            let _ = writeln!(out, "+{}", b[j]);
            j += 1;
        } else {
            let _ = writeln!(out, "-{}", a[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands_args_input_and_output() {
        let text = "# c\nadd-nodes 3 voters=(1,2, 3) index=2\nv1 r2\n----\nline a\nline b\n\ncampaign 1\n----\nok\n";
        let cases = parse(text).unwrap();
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].cmd, "add-nodes");
        assert_eq!(cases[0].args[0], CmdArg { key: "3".into(), vals: vec![] });
        assert_eq!(cases[0].arg("voters").unwrap(), ["1", "2", "3"]);
        assert_eq!(cases[0].scan::<u64>("index").unwrap(), Some(2));
        assert_eq!(cases[0].input, "v1 r2");
        assert_eq!(cases[0].expected, "line a\nline b\n");
        assert_eq!(cases[1].line, 8);
        assert_eq!(cases[1].expected, "ok\n");
    }

    #[test]
    fn doubled_separator_allows_blank_lines() {
        let cases = parse("x\n----\n----\na\n\nb\n----\n----\n\ny\n----\nok\n").unwrap();
        assert_eq!(cases[0].expected, "a\n\nb\n");
        assert_eq!(cases[1].cmd, "y");
    }

    #[test]
    fn missing_separator_is_an_error() {
        assert!(parse("cmd 1\n").is_err());
    }

    #[test]
    fn diff_marks_changed_lines() {
        let d = similar_diff("a\nb\nc\n", "a\nx\nc\n");
        assert!(d.contains("-b\n") && d.contains("+x\n") && d.contains(" a\n"));
    }
}
