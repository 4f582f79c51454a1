//! etcd's `Describe*` text for messages, entries, states and Readies, word
//! for word: the conformance scripts compare this text byte for byte, and
//! people who debug etcd clusters already read it fluently.

use std::fmt::Write as _;

use crate::raft::{LOCAL_APPEND_THREAD, LOCAL_APPLY_THREAD, NONE};
use crate::raftpb::{
    conf_changes_to_string, decode, is_empty_hard_state, is_empty_snap, ConfChange, ConfChangeI, ConfChangeTransition,
    ConfChangeType, ConfChangeV2, ConfState, Entry, EntryType, HardState, Message, MessageType, Snapshot,
};
use crate::raw_node::{Ready, SoftState};

/// Renders a normal entry's payload; `None` means Go's `%q` of the bytes.
pub type EntryFormatter<'a> = Option<&'a dyn Fn(&[u8]) -> String>;

/// Quotes bytes exactly like Go's `%q` on a `[]byte`: a double-quoted
/// string with Go escapes; valid UTF-8 printable runes stay as they are.
pub fn go_quote(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() + 2);
    out.push('"');
    let mut rest = b;
    while !rest.is_empty() {
        let (valid, bad) = match std::str::from_utf8(rest) {
            Ok(s) => (s, None),
            Err(e) => {
                let (ok, tail) = rest.split_at(e.valid_up_to());
                // Safe: `ok` is exactly the validated prefix.
                (std::str::from_utf8(ok).unwrap_or_default(), Some(tail))
            }
        };
        for c in valid.chars() {
            quote_rune(&mut out, c);
        }
        match bad {
            None => break,
            Some(tail) => {
                // An invalid byte is written as \x.. and decoding resumes
                // after it, as Go's strconv does.
                let _ = write!(out, "\\x{:02x}", tail[0]);
                rest = &tail[1..];
            }
        }
    }
    out.push('"');
    out
}

fn quote_rune(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if c.is_control() || (c as u32 >= 0x80 && !is_go_printable(c)) => {
            if (c as u32) < 0x10000 {
                let _ = write!(out, "\\u{:04x}", c as u32);
            } else {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
        c => out.push(c),
    }
}

/// An approximation of Go's unicode.IsPrint for non-ASCII runes: letters,
/// marks, numbers, punctuation and symbols print; separators other than
/// U+0020 and format characters do not.
fn is_go_printable(c: char) -> bool {
    !(c.is_whitespace() || matches!(c as u32, 0xad | 0x600..=0x605 | 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x206f | 0xfeff | 0xfff9..=0xfffb))
}

/// How a node id appears in message descriptions: hex, "None", or the
/// local storage threads' names.
pub fn describe_target(id: u64) -> String {
    match id {
        NONE => "None".to_string(),
        LOCAL_APPEND_THREAD => "AppendThread".to_string(),
        LOCAL_APPLY_THREAD => "ApplyThread".to_string(),
        id => format!("{id:x}"),
    }
}

/// "Term:1 Vote:1 Commit:3" (the vote only when set).
pub fn describe_hard_state(hs: &HardState) -> String {
    let mut s = format!("Term:{}", hs.term);
    if hs.vote != 0 {
        let _ = write!(s, " Vote:{}", hs.vote);
    }
    let _ = write!(s, " Commit:{}", hs.commit);
    s
}

/// "Lead:1 State:StateLeader".
pub fn describe_soft_state(ss: &SoftState) -> String {
    format!("Lead:{} State:{}", ss.lead, ss.raft_state)
}

/// Go's `%v` of a `[]uint64`: "[1 2 3]".
fn go_list(ids: &[u64]) -> String {
    let parts: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    format!("[{}]", parts.join(" "))
}

/// "Voters:[1 2 3] VotersOutgoing:[] Learners:[] LearnersNext:[] AutoLeave:false".
/// Beyond etcd, " Witnesses:[3]" follows when there are witnesses.
pub fn describe_conf_state(cs: &ConfState) -> String {
    let mut s = format!(
        "Voters:{} VotersOutgoing:{} Learners:{} LearnersNext:{} AutoLeave:{}",
        go_list(&cs.voters),
        go_list(&cs.voters_outgoing),
        go_list(&cs.learners),
        go_list(&cs.learners_next),
        cs.auto_leave
    );
    if !cs.witnesses.is_empty() {
        s.push_str(&format!(" Witnesses:{}", go_list(&cs.witnesses)));
    }
    s
}

/// A ConfState as etcd v3.7 logs a `*pb.ConfState` with `%v`: protobuf
/// text format, one `name:value` per list element, `auto_leave` always
/// (etcd's tracker sets it explicitly), e.g. `voters:1 voters:2 auto_leave:false`.
pub fn conf_state_text(cs: &ConfState) -> String {
    let mut parts = Vec::new();
    let lists: [(&str, &[u64]); 4] = [
        ("voters", &cs.voters),
        ("learners", &cs.learners),
        ("voters_outgoing", &cs.voters_outgoing),
        ("learners_next", &cs.learners_next),
    ];
    for (name, ids) in lists {
        parts.extend(ids.iter().map(|id| format!("{name}:{id}")));
    }
    parts.push(format!("auto_leave:{}", cs.auto_leave));
    // Beyond etcd: absent without witnesses.
    parts.extend(cs.witnesses.iter().map(|id| format!("witnesses:{id}")));
    parts.join(" ")
}

/// A configuration change as etcd v3.7's `DescribeConfChange` writes it:
/// always in v2 form (a v1 change is described as `cc.AsV2()`), e.g.
/// `transition:ConfChangeTransitionAuto changes:{type:ConfChangeAddNode node_id:3}`.
pub fn describe_conf_change(cc: &ConfChangeI) -> String {
    let v2 = cc.as_v2();
    let name = |t: i32, f: fn(i32) -> Option<&'static str>| f(t).map_or_else(|| t.to_string(), str::to_string);
    let mut s = format!(
        "transition:{}",
        name(v2.transition, |t| ConfChangeTransition::try_from(t).ok().map(|t| t.as_str_name()))
    );
    for ch in &v2.changes {
        let _ = write!(
            s,
            " changes:{{type:{} node_id:{}}}",
            name(ch.r#type, |t| ConfChangeType::try_from(t).ok().map(|t| t.as_str_name())),
            ch.node_id
        );
    }
    if !v2.context.is_empty() {
        let _ = write!(s, " context:{}", go_quote(&v2.context));
    }
    s
}

/// "Index:11 Term:1 ConfState:Voters:[...] ...".
pub fn describe_snapshot(s: &Snapshot) -> String {
    format!("Index:{} Term:{} ConfState:{}", s.index(), s.term(), describe_conf_state(&s.conf_state()))
}

/// Name of an entry type as etcd prints it (the number when unknown).
fn entry_type_name(t: i32) -> String {
    EntryType::try_from(t).map_or_else(|_| t.to_string(), |t| t.as_str_name().to_string())
}

/// Name of a message type as etcd prints it (the number when unknown).
pub fn message_type_name(t: i32) -> String {
    MessageType::try_from(t).map_or_else(|_| t.to_string(), |t| t.as_str_name().to_string())
}

/// "1/3 EntryNormal \"data\"": conf changes appear in their "v1 r2" form.
pub fn describe_entry(e: &Entry, f: EntryFormatter<'_>) -> String {
    let formatted = match EntryType::try_from(e.r#type) {
        Ok(EntryType::EntryNormal) => match f {
            Some(f) => f(&e.data),
            None => go_quote(&e.data),
        },
        Ok(EntryType::EntryConfChange) => match decode::<ConfChange>(&e.data) {
            Ok(cc) => conf_changes_to_string(&ConfChangeI::V1(cc).as_v2().changes),
            Err(err) => err.to_string(),
        },
        Ok(EntryType::EntryConfChangeV2) => match decode::<ConfChangeV2>(&e.data) {
            Ok(cc) => conf_changes_to_string(&cc.changes),
            Err(err) => err.to_string(),
        },
        Err(_) => String::new(),
    };
    let sep = if formatted.is_empty() { "" } else { " " };
    format!("{}/{} {}{}{}", e.term, e.index, entry_type_name(e.r#type), sep, formatted)
}

/// One described entry per line, each followed by a newline.
pub fn describe_entries(ents: &[Entry], f: EntryFormatter<'_>) -> String {
    let mut s = String::new();
    for e in ents {
        s.push_str(&describe_entry(e, f));
        s.push('\n');
    }
    s
}

/// "1->2 MsgApp Term:1 Log:1/2 Commit:2 Entries:[1/3 EntryNormal \"\"]",
/// with multi-entry lists, snapshots and responses on indented lines.
pub fn describe_message(m: &Message, f: EntryFormatter<'_>) -> String {
    describe_message_with_indent("", m, f)
}

fn describe_message_with_indent(indent: &str, m: &Message, f: EntryFormatter<'_>) -> String {
    let mut s = format!(
        "{indent}{}->{} {} Term:{} Log:{}/{}",
        describe_target(m.from),
        describe_target(m.to),
        message_type_name(m.r#type),
        m.term,
        m.log_term,
        m.index
    );
    if m.reject {
        let _ = write!(s, " Rejected (Hint: {})", m.reject_hint);
    }
    if m.commit != 0 {
        let _ = write!(s, " Commit:{}", m.commit);
    }
    if m.vote != 0 {
        let _ = write!(s, " Vote:{}", m.vote);
    }
    if m.priority != 0 {
        // Beyond etcd; never set unless Config.priority is (etcd's output
        // is unchanged).
        let _ = write!(s, " Priority:{}", m.priority);
    }
    match m.entries.len() {
        0 => {}
        1 => {
            let _ = write!(s, " Entries:[{}]", describe_entry(&m.entries[0], f));
        }
        _ => {
            s.push_str(" Entries:[");
            for e in &m.entries {
                let _ = write!(s, "\n{indent}  {}", describe_entry(e, f));
            }
            let _ = write!(s, "\n{indent}]");
        }
    }
    if let Some(snap) = m.snapshot.as_ref().filter(|s| !is_empty_snap(s)) {
        let _ = write!(s, "\n{indent}  Snapshot: {}", describe_snapshot(snap));
    }
    if !m.responses.is_empty() {
        s.push_str(" Responses:[");
        let inner = format!("{indent}  ");
        for r in &m.responses {
            s.push('\n');
            s.push_str(&describe_message_with_indent(&inner, r, f));
        }
        let _ = write!(s, "\n{indent}]");
    }
    s
}

/// The whole Ready as etcd's rafttest prints it, or "<empty Ready>".
pub fn describe_ready(rd: &Ready, f: EntryFormatter<'_>) -> String {
    let mut s = String::new();
    if let Some(ss) = &rd.soft_state {
        s.push_str(&describe_soft_state(ss));
        s.push('\n');
    }
    if let Some(hs) = rd.hard_state.as_ref().filter(|hs| !is_empty_hard_state(hs)) {
        let _ = writeln!(s, "HardState {}", describe_hard_state(hs));
    }
    if !rd.read_states.is_empty() {
        let parts: Vec<String> = rd
            .read_states
            .iter()
            .map(|r| {
                let ctx: Vec<String> = r.request_ctx.iter().map(|b| b.to_string()).collect();
                format!("{{{} [{}]}}", r.index, ctx.join(" "))
            })
            .collect();
        let _ = writeln!(s, "ReadStates [{}]", parts.join(" "));
    }
    if !rd.entries.is_empty() {
        s.push_str("Entries:\n");
        s.push_str(&describe_entries(&rd.entries, f));
    }
    if let Some(snap) = rd.snapshot.as_ref().filter(|s| !is_empty_snap(s)) {
        let _ = writeln!(s, "Snapshot {}", describe_snapshot(snap));
    }
    if !rd.committed_entries.is_empty() {
        s.push_str("CommittedEntries:\n");
        s.push_str(&describe_entries(&rd.committed_entries, f));
    }
    if !rd.messages.is_empty() {
        s.push_str("Messages:\n");
        for m in &rd.messages {
            s.push_str(&describe_message(m, f));
            s.push('\n');
        }
    }
    if s.is_empty() {
        return "<empty Ready>".to_string();
    }
    format!("Ready MustSync={}:\n{}", rd.must_sync, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote(b""), "\"\"");
        assert_eq!(go_quote(b"prop_1"), "\"prop_1\"");
        assert_eq!(go_quote(b"a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(go_quote(&[0u8, 0xff, b'x']), "\"\\x00\\xffx\"");
        assert_eq!(go_quote("héllo".as_bytes()), "\"héllo\"");
    }

    #[test]
    fn describes_messages() {
        let m = Message {
            r#type: MessageType::MsgApp as i32,
            from: 1,
            to: 2,
            term: 1,
            log_term: 1,
            index: 2,
            commit: 2,
            entries: vec![Entry { term: 1, index: 3, ..Default::default() }],
            ..Default::default()
        };
        assert_eq!(describe_message(&m, None), "1->2 MsgApp Term:1 Log:1/2 Commit:2 Entries:[1/3 EntryNormal \"\"]");
        let hs = HardState { term: 2, vote: 0, commit: 5 };
        assert_eq!(describe_hard_state(&hs), "Term:2 Commit:5");
    }
}

#[cfg(test)]
mod text_tests {
    use super::*;

    #[test]
    fn conf_state_as_protobuf_text() {
        let cs = ConfState { voters: vec![1, 2], learners_next: vec![3], ..Default::default() };
        assert_eq!(conf_state_text(&cs), "voters:1 voters:2 learners_next:3 auto_leave:false");
        assert_eq!(conf_state_text(&ConfState::default()), "auto_leave:false");
    }

    #[test]
    fn conf_changes_described_in_v2_form() {
        let v1 = ConfChange { r#type: ConfChangeType::ConfChangeRemoveNode as i32, node_id: 1, id: 9, ..Default::default() };
        assert_eq!(
            describe_conf_change(&ConfChangeI::V1(v1)),
            "transition:ConfChangeTransitionAuto changes:{type:ConfChangeRemoveNode node_id:1}"
        );
        let v2 = ConfChangeV2 { context: bytes::Bytes::from_static(b"x"), ..Default::default() };
        assert_eq!(describe_conf_change(&ConfChangeI::V2(v2)), "transition:ConfChangeTransitionAuto context:\"x\"");
    }
}
