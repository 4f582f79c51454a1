//! Where a host keeps its groups' snapshots (metadata and data). The shared
//! log records only snapshot metadata; the data lives here. A save is
//! durable when it returns, because the log is compacted behind it.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use polyraft::raftpb::{self, Snapshot};

/// Snapshot storage of one host, one latest snapshot per group.
pub trait SnapshotStore: Send + Sync {
    /// Stores `snap` as the group's latest snapshot, durably.
    fn save(&self, group: u64, snap: &Snapshot) -> Result<(), String>;
    /// The group's latest snapshot, if any.
    fn load(&self, group: u64) -> Result<Option<Snapshot>, String>;
    /// Deletes the group's snapshot.
    fn remove(&self, group: u64) -> Result<(), String>;
}

/// Snapshots in memory. Clones share the same map, so a test can keep it
/// across a simulated restart of its host.
#[derive(Clone, Default)]
pub struct MemSnapshotStore {
    snaps: Arc<Mutex<BTreeMap<u64, Snapshot>>>,
}

impl MemSnapshotStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl SnapshotStore for MemSnapshotStore {
    fn save(&self, group: u64, snap: &Snapshot) -> Result<(), String> {
        self.snaps.lock().insert(group, snap.clone());
        Ok(())
    }
    fn load(&self, group: u64) -> Result<Option<Snapshot>, String> {
        Ok(self.snaps.lock().get(&group).cloned())
    }
    fn remove(&self, group: u64) -> Result<(), String> {
        self.snaps.lock().remove(&group);
        Ok(())
    }
}

/// Snapshots as files `<dir>/<group>.snap`: the encoded raftpb Snapshot
/// followed by its CRC-32. Written to a temporary file, synced, renamed over
/// the old one, and the directory synced: a crash leaves the old or the new
/// snapshot, never a mix.
pub struct FileSnapshotStore {
    dir: PathBuf,
}

impl FileSnapshotStore {
    /// Opens (creating if needed) the directory.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, String> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        Ok(FileSnapshotStore { dir })
    }

    fn path(&self, group: u64) -> PathBuf {
        self.dir.join(format!("{group:020}.snap"))
    }
}

impl SnapshotStore for FileSnapshotStore {
    fn save(&self, group: u64, snap: &Snapshot) -> Result<(), String> {
        let mut body = raftpb::encode(snap).to_vec();
        let crc = crc32fast::hash(&body);
        body.extend_from_slice(&crc.to_le_bytes());
        let tmp = self.dir.join(format!("{group:020}.snap.tmp"));
        let path = self.path(group);
        let res = (|| -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&body)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            fs::File::open(&self.dir)?.sync_all()
        })();
        res.map_err(|e| format!("save snapshot {}: {e}", path.display()))
    }

    fn load(&self, group: u64) -> Result<Option<Snapshot>, String> {
        let path = self.path(group);
        let body = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("read {}: {e}", path.display())),
        };
        if body.len() < 4 {
            return Err(format!("{}: truncated snapshot", path.display()));
        }
        let (msg, crc) = body.split_at(body.len() - 4);
        if crc32fast::hash(msg).to_le_bytes() != crc {
            return Err(format!("{}: snapshot checksum mismatch", path.display()));
        }
        raftpb::decode(msg).map(Some).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn remove(&self, group: u64) -> Result<(), String> {
        match fs::remove_file(self.path(group)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("remove snapshot of group {group}: {e}")),
        }
    }
}
