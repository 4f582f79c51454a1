//! A remote host's bounded outbox: the engine pushes without blocking, the
//! connection's writer takes everything queued (up to one frame) at once —
//! which is what coalesces the messages of many groups into one frame.

use std::collections::VecDeque;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::wire::frame_entry_len;
use crate::GroupId;

struct Queue {
    messages: VecDeque<(GroupId, Bytes)>,
    bytes: usize,
}

/// Bounded by message count and by bytes.
pub(crate) struct Outbox {
    queue: Mutex<Queue>,
    ready: Notify,
    max_messages: usize,
    max_bytes: usize,
}

impl Outbox {
    pub(crate) fn new(max_messages: usize, max_bytes: usize) -> Self {
        Outbox {
            queue: Mutex::new(Queue { messages: VecDeque::new(), bytes: 0 }),
            ready: Notify::new(),
            max_messages,
            max_bytes,
        }
    }

    /// Queues what fits, in order, and returns the messages that did not fit.
    pub(crate) fn push(&self, messages: Vec<(GroupId, Bytes)>) -> Vec<(GroupId, Bytes)> {
        let mut rejected = Vec::new();
        let mut q = self.queue.lock();
        let before = q.messages.len();
        for m in messages {
            if rejected.is_empty() && q.messages.len() < self.max_messages && q.bytes + m.1.len() <= self.max_bytes {
                q.bytes += m.1.len();
                q.messages.push_back(m);
            } else {
                // Keep order: once one message is refused, the rest are too.
                rejected.push(m);
            }
        }
        let added = q.messages.len() > before;
        drop(q);
        if added {
            self.ready.notify_one();
        }
        rejected
    }

    /// Takes queued messages up to `frame_limit` encoded bytes (always at
    /// least one message when any is queued); empty when none is.
    pub(crate) fn take_frame(&self, frame_limit: usize) -> Vec<(GroupId, Bytes)> {
        let mut q = self.queue.lock();
        let mut out = Vec::new();
        let mut size = 0;
        while let Some((g, m)) = q.messages.front() {
            let add = frame_entry_len(*g, m.len());
            if !out.is_empty() && size + add > frame_limit {
                break;
            }
            size += add;
            let m = q.messages.pop_front().expect("front exists");
            q.bytes -= m.1.len();
            out.push(m);
        }
        out
    }

    /// Empties the outbox and returns what it held.
    pub(crate) fn drain(&self) -> Vec<(GroupId, Bytes)> {
        let mut q = self.queue.lock();
        q.bytes = 0;
        q.messages.drain(..).collect()
    }

    /// True when nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.lock().messages.is_empty()
    }

    /// Waits until something may have been queued since the last wait.
    pub(crate) async fn ready(&self) {
        self.ready.notified().await
    }
}

/// The distinct groups of `messages`, in first-seen order.
pub(crate) fn groups_of(messages: &[(GroupId, Bytes)]) -> Vec<GroupId> {
    let mut gs: Vec<GroupId> = Vec::new();
    for (g, _) in messages {
        if !gs.contains(g) {
            gs.push(*g);
        }
    }
    gs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(g: GroupId, n: usize) -> (GroupId, Bytes) {
        (g, Bytes::from(vec![0u8; n]))
    }

    #[test]
    fn bounded_by_count_and_bytes_in_order() {
        let o = Outbox::new(3, 100);
        assert!(o.push(vec![m(1, 10), m(2, 10)]).is_empty());
        let rejected = o.push(vec![m(3, 10), m(4, 1), m(5, 1)]);
        assert_eq!(groups_of(&rejected), vec![4, 5]);
        let o = Outbox::new(100, 25);
        let rejected = o.push(vec![m(1, 10), m(2, 20), m(3, 1)]);
        assert_eq!(groups_of(&rejected), vec![2, 3], "order kept: 3 would fit but follows a refused one");
        assert_eq!(o.drain().len(), 1);
        assert!(o.is_empty());
    }

    #[test]
    fn take_frame_respects_the_limit_but_always_takes_one() {
        let o = Outbox::new(100, 1 << 20);
        o.push(vec![m(1, 100), m(2, 100), m(3, 5000)]);
        let f = o.take_frame(250);
        assert_eq!(groups_of(&f), vec![1, 2]);
        let f = o.take_frame(250);
        assert_eq!(groups_of(&f), vec![3], "one oversized message still leaves");
        assert!(o.take_frame(250).is_empty());
    }
}
