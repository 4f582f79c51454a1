//! A snapshot source that generates its bytes (so a large snapshot costs no
//! memory or disk in the test) and counts what it produced.
#![allow(dead_code)]

use std::hash::Hasher;
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub struct Generated {
    left: u64,
    state: u64,
    pub produced: Arc<AtomicU64>,
    /// Fail with an I/O error after this many bytes.
    pub fail_at: Option<u64>,
}

impl Generated {
    pub fn new(len: u64, seed: u64) -> Self {
        Generated { left: len, state: seed | 1, produced: Arc::new(AtomicU64::new(0)), fail_at: None }
    }
    /// The hash the receiving sink should compute for `len` bytes of `seed`.
    pub fn expected_hash(len: u64, seed: u64) -> u64 {
        let mut g = Generated::new(len, seed);
        let mut h = std::collections::hash_map::DefaultHasher::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = g.read(&mut buf).unwrap();
            if n == 0 {
                return h.finish();
            }
            h.write(&buf[..n]);
        }
    }
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let done = self.produced.load(Ordering::SeqCst);
        if self.fail_at.is_some_and(|f| done >= f) {
            return Err(io::Error::other("snapshot file unreadable (injected)"));
        }
        // Odd-sized reads, so chunking does not rely on full reads.
        let n = (buf.len().min(self.left as usize)).min(100_003);
        for b in &mut buf[..n] {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            *b = self.state as u8;
        }
        self.left -= n as u64;
        self.produced.fetch_add(n as u64, Ordering::SeqCst);
        Ok(n)
    }
}
