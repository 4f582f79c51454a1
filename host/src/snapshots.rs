//! Where a host keeps its groups' snapshots (metadata and data). The shared
//! log records only snapshot metadata; the data lives here. A save is
//! durable when it returns, because the log is compacted behind it.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use polyraft::raftpb::{self, Snapshot};

use crate::snapdata::{DataRef, DataWriter};

/// Snapshot storage of one host, one latest snapshot per group.
pub trait SnapshotStore: Send + Sync {
    /// Stores `snap` as the group's latest snapshot, durably.
    fn save(&self, group: u64, snap: &Snapshot) -> Result<(), String>;
    /// The group's latest snapshot, if any.
    fn load(&self, group: u64) -> Result<Option<Snapshot>, String>;
    /// Deletes the group's snapshot.
    fn remove(&self, group: u64) -> Result<(), String>;
    /// Starts a data file for a snapshot of `group` at `index`, so that
    /// snapshot data never sits whole in memory (see [`crate::snapdata`]).
    /// `None` (the default): this store keeps data inline.
    fn create_data(&self, _group: u64, _index: u64) -> Result<Option<Box<dyn DataWriter>>, String> {
        Ok(None)
    }
    /// Opens the data file `r` of `group` (written by `create_data`).
    fn open_data(&self, group: u64, r: &DataRef) -> Result<Box<dyn Read + Send>, String> {
        Err(format!("group {group}: snapshot data file {} not kept by this store", r.index))
    }
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

    fn data_path(&self, group: u64, index: u64, nonce: u64) -> PathBuf {
        self.dir.join(format!("{group:020}-{index:020}-{nonce:016x}.data"))
    }

    /// Removes the data files of `group` older than `index` (all with
    /// `u64::MAX`): superseded snapshots, or received ones raft refused.
    /// Newer files may belong to a snapshot still on its way to raft.
    fn remove_data_before(&self, group: u64, index: u64) {
        let Ok(dir) = fs::read_dir(&self.dir) else { return };
        let prefix = format!("{group:020}-");
        for e in dir.flatten() {
            let name = e.file_name();
            let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else { continue };
            let Some(i) = rest.split('-').next().and_then(|i| i.parse::<u64>().ok()) else { continue };
            if i < index && (rest.ends_with(".data") || rest.ends_with(".data.tmp")) {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

/// A data file being written by [`FileSnapshotStore::create_data`].
struct FileDataWriter {
    tmp: PathBuf,
    path: PathBuf,
    dir: PathBuf,
    file: Option<BufWriter<fs::File>>,
    r: DataRef,
    crc: crc32fast::Hasher,
}

impl Write for FileDataWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.as_mut().expect("open until commit").write(buf)?;
        self.crc.update(&buf[..n]);
        self.r.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.as_mut().expect("open until commit").flush()
    }
}

impl DataWriter for FileDataWriter {
    fn commit(mut self: Box<Self>) -> Result<bytes::Bytes, String> {
        let file = self.file.take().expect("open until commit");
        let res = (|| -> std::io::Result<()> {
            let f = file.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
            fs::rename(&self.tmp, &self.path)?;
            fs::File::open(&self.dir)?.sync_all()
        })();
        res.map_err(|e| format!("save snapshot data {}: {e}", self.path.display()))?;
        self.r.crc = self.crc.clone().finalize();
        Ok(self.r.encode())
    }
}

impl Drop for FileDataWriter {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
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
        res.map_err(|e| format!("save snapshot {}: {e}", path.display()))?;
        self.remove_data_before(group, snap.index());
        Ok(())
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
        .inspect(|_| self.remove_data_before(group, u64::MAX))
    }

    fn create_data(&self, group: u64, index: u64) -> Result<Option<Box<dyn DataWriter>>, String> {
        let nonce = fastrand::u64(..);
        let path = self.data_path(group, index, nonce);
        let tmp = path.with_extension("data.tmp");
        let file = fs::File::create(&tmp).map_err(|e| format!("create {}: {e}", tmp.display()))?;
        Ok(Some(Box::new(FileDataWriter {
            tmp,
            path,
            dir: self.dir.clone(),
            file: Some(BufWriter::with_capacity(1 << 20, file)),
            r: DataRef { index, nonce, size: 0, crc: 0 },
            crc: crc32fast::Hasher::new(),
        })))
    }

    fn open_data(&self, group: u64, r: &DataRef) -> Result<Box<dyn Read + Send>, String> {
        let path = self.data_path(group, r.index, r.nonce);
        let f = fs::File::open(&path).map_err(|e| format!("open {}: {e}", path.display()))?;
        Ok(Box::new(BufReader::with_capacity(1 << 20, f)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polyraft::raftpb::SnapshotMetadata;

    fn snap(index: u64) -> Snapshot {
        Snapshot { metadata: Some(SnapshotMetadata { index, term: 1, ..Default::default() }), data: bytes::Bytes::from(vec![index as u8; 3]) }
    }

    fn round_trip(store: &dyn SnapshotStore) {
        assert_eq!(store.load(1).unwrap(), None);
        store.save(1, &snap(5)).unwrap();
        store.save(2, &snap(7)).unwrap();
        assert_eq!(store.load(1).unwrap(), Some(snap(5)));
        assert_eq!(store.load(2).unwrap(), Some(snap(7)));
        store.save(1, &snap(9)).unwrap();
        assert_eq!(store.load(1).unwrap(), Some(snap(9)));
        store.remove(1).unwrap();
        assert_eq!(store.load(1).unwrap(), None);
        assert_eq!(store.load(2).unwrap(), Some(snap(7)), "another group's snapshot stays");
        store.remove(1).unwrap();
    }

    /// One latest snapshot per group, replaced by a save, gone after a
    /// removal; both stores.
    #[test]
    fn save_load_remove() {
        round_trip(&MemSnapshotStore::new());
        let dir = tempfile::tempdir().unwrap();
        round_trip(&FileSnapshotStore::open(dir.path()).unwrap());
    }

    /// A snapshot file that cannot be read is an error, not a missing
    /// snapshot (which would restart the group from nothing); a damaged
    /// one too.
    #[test]
    fn unreadable_or_damaged_snapshots_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileSnapshotStore::open(dir.path()).unwrap();
        fs::create_dir(store.path(1)).unwrap();
        assert!(store.load(1).is_err());
        store.save(2, &snap(5)).unwrap();
        let mut body = fs::read(store.path(2)).unwrap();
        body[0] ^= 1;
        fs::write(store.path(2), &body).unwrap();
        assert!(store.load(2).unwrap_err().contains("checksum"));
        fs::write(store.path(2), [1, 2]).unwrap();
        assert!(store.load(2).unwrap_err().contains("truncated"));
        // An empty snapshot encodes to nothing: its file is its checksum.
        store.save(3, &Snapshot::default()).unwrap();
        assert_eq!(fs::read(store.path(3)).unwrap().len(), 4);
        assert_eq!(store.load(3).unwrap(), Some(Snapshot::default()));
        // A removal that fails is reported; one of nothing is not.
        fs::write(store.path(1).join("x"), b"x").unwrap();
        assert!(store.remove(1).is_err());
        store.remove(9).unwrap();
    }

    fn write_data(store: &FileSnapshotStore, group: u64, index: u64, data: &[u8]) -> DataRef {
        let mut w = store.create_data(group, index).unwrap().expect("a file store keeps data in files");
        for chunk in data.chunks(7) {
            w.write_all(chunk).unwrap();
        }
        w.flush().unwrap();
        DataRef::decode(&w.commit().unwrap()).unwrap()
    }

    fn read_data(store: &FileSnapshotStore, group: u64, r: &DataRef) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        store.open_data(group, r)?.read_to_end(&mut out).unwrap();
        Ok(out)
    }

    /// A data file reads back as written, with its size and checksum in
    /// its reference.
    #[test]
    fn data_files_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileSnapshotStore::open(dir.path()).unwrap();
        let data: Vec<u8> = (0..100u8).collect();
        let r = write_data(&store, 3, 10, &data);
        assert_eq!((r.index, r.size, r.crc), (10, 100, crc32fast::hash(&data)));
        assert_eq!(read_data(&store, 3, &r).unwrap(), data);
    }

    /// Saving a snapshot deletes the group's data files of older indexes
    /// (and of no other group); removing the snapshot deletes them all. A
    /// data file dropped before its commit leaves nothing behind.
    #[test]
    fn superseded_data_files_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileSnapshotStore::open(dir.path()).unwrap();
        let old = write_data(&store, 3, 10, b"old");
        let new = write_data(&store, 3, 30, b"new");
        let other = write_data(&store, 4, 10, b"other");
        drop(store.create_data(3, 5).unwrap());
        let names = || -> Vec<String> { fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect() };
        assert!(names().iter().all(|n| !n.ends_with(".tmp")), "{:?}", names());
        store.save(3, &snap(20)).unwrap();
        assert!(read_data(&store, 3, &old).is_err(), "older than the snapshot: deleted");
        assert_eq!(read_data(&store, 3, &new).unwrap(), b"new");
        assert_eq!(read_data(&store, 4, &other).unwrap(), b"other");
        store.remove(3).unwrap();
        assert!(read_data(&store, 3, &new).is_err());
        assert_eq!(read_data(&store, 4, &other).unwrap(), b"other");
    }
}
