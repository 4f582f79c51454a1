//! The sliding window of append messages sent but not yet acknowledged.

use std::collections::VecDeque;

/// In-flight MsgApps to one peer, each remembered by its last index and
/// payload bytes. Full when the count or the byte budget is reached; the
/// leader then stops sending new entries to the peer until acks free room.
#[derive(Debug, Clone)]
pub struct Inflights {
    queue: VecDeque<(u64, u64)>,
    size: usize,
    max_bytes: u64,
    bytes: u64,
}

impl Inflights {
    /// A window of at most `size` messages and `max_bytes` bytes (0 or
    /// u64::MAX: no byte limit).
    pub fn new(size: usize, max_bytes: u64) -> Self {
        Inflights { queue: VecDeque::new(), size, max_bytes, bytes: 0 }
    }

    /// Records a message whose last entry is `index`, carrying `bytes`.
    /// Indexes must increase.
    pub fn add(&mut self, index: u64, bytes: u64) {
        self.queue.push_back((index, bytes));
        self.bytes = self.bytes.saturating_add(bytes);
    }

    /// Grows the latest message in flight to end at `index` with `bytes`
    /// more (batched appends: entries merged into a queued MsgApp). With
    /// nothing in flight it records a new message.
    pub fn extend_last(&mut self, index: u64, bytes: u64) {
        match self.queue.back_mut() {
            Some(last) => {
                last.0 = index;
                last.1 = last.1.saturating_add(bytes);
                self.bytes = self.bytes.saturating_add(bytes);
            }
            None => self.add(index, bytes),
        }
    }

    /// Frees every message whose last index is <= `to` (they were acked).
    pub fn free_le(&mut self, to: u64) {
        while let Some(&(index, bytes)) = self.queue.front() {
            if index > to {
                break;
            }
            self.bytes -= bytes;
            self.queue.pop_front();
        }
        if self.queue.is_empty() && self.queue.capacity() > self.size.max(16).saturating_mul(4) {
            self.queue.shrink_to_fit();
        }
    }

    /// Whether no more messages may be sent.
    pub fn full(&self) -> bool {
        self.queue.len() >= self.size || (self.max_bytes != 0 && self.max_bytes != u64::MAX && self.bytes >= self.max_bytes)
    }

    /// Number of messages in flight.
    pub fn count(&self) -> usize {
        self.queue.len()
    }

    /// Forgets everything in flight.
    pub fn reset(&mut self) {
        self.queue.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_and_bytes_limits() {
        let mut f = Inflights::new(3, 0);
        f.add(1, 100);
        f.add(2, 100);
        assert!(!f.full());
        f.add(3, 100);
        assert!(f.full());
        f.free_le(2);
        assert_eq!(f.count(), 1);
        assert!(!f.full());

        let mut b = Inflights::new(10, 250);
        b.add(1, 100);
        b.add(2, 100);
        assert!(!b.full());
        b.add(3, 100);
        assert!(b.full());
        b.free_le(1);
        assert!(!b.full());
        b.free_le(0);
        assert_eq!(b.count(), 2);
        b.reset();
        assert_eq!(b.count(), 0);
    }
}
