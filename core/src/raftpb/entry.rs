//! The log entry, written by hand rather than generated so that it can
//! keep one bit of protobuf field presence that etcd v3.7 (proto2) keeps:
//! whether the entry type was set explicitly. etcd sets it on the empty
//! entry that replaces a refused conf change (`&pb.Entry{Type:
//! pb.EntryNormal.Enum()}`), and `proto.Size` then counts two more bytes,
//! which moves where byte limits cut batches. Everything else about the
//! entry is exactly what prost would generate for raftpb's `Entry`.

use bytes::{Buf, BufMut, Bytes};
use prost::encoding::{self, DecodeContext, WireType};
use prost::DecodeError;

use super::EntryType;

/// A log entry (raftpb `Entry`): term, index, type and payload.
///
/// Equality and hashing ignore `type_set`: it is encoding detail, not part
/// of the entry's value.
#[derive(Clone, Default)]
pub struct Entry {
    /// The term of the leader that created the entry.
    pub term: u64,
    /// The entry's position in the log.
    pub index: u64,
    /// An [`EntryType`] value.
    pub r#type: i32,
    /// The payload (a conf change's encoding for conf-change entries).
    pub data: Bytes,
    /// Whether the type is present on the wire even when it is
    /// `EntryNormal` (0): set on the entry that replaces a refused conf
    /// change, and by decoding bytes that carry the field.
    pub type_set: bool,
}

impl Entry {
    /// The entry type; an unknown value reads as `EntryNormal` (prost's
    /// getter convention).
    pub fn r#type(&self) -> EntryType {
        EntryType::try_from(self.r#type).unwrap_or_default()
    }

    /// Sets the entry type.
    pub fn set_type(&mut self, t: EntryType) {
        self.r#type = t as i32;
    }
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        self.term == o.term && self.index == o.index && self.r#type == o.r#type && self.data == o.data
    }
}

impl Eq for Entry {}

impl std::hash::Hash for Entry {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        (self.term, self.index, self.r#type, &self.data).hash(h);
    }
}

/// Like prost's derived Debug (the presence bit is left out).
impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("term", &self.term)
            .field("index", &self.index)
            // As prost's derive prints an enumeration: its name when known.
            .field("r#type", &EntryType::try_from(self.r#type).map_or_else(|_| self.r#type.to_string(), |t| format!("{t:?}")))
            .field("data", &self.data)
            .finish()
    }
}

impl Entry {
    fn type_on_wire(&self) -> bool {
        self.r#type != 0 || self.type_set
    }
}

impl prost::Message for Entry {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        if self.type_on_wire() {
            encoding::int32::encode(1, &self.r#type, buf);
        }
        if self.term != 0 {
            encoding::uint64::encode(2, &self.term, buf);
        }
        if self.index != 0 {
            encoding::uint64::encode(3, &self.index, buf);
        }
        if !self.data.is_empty() {
            encoding::bytes::encode(4, &self.data, buf);
        }
    }

    fn merge_field(&mut self, tag: u32, wire_type: WireType, buf: &mut impl Buf, ctx: DecodeContext) -> Result<(), DecodeError>
    where
        Self: Sized,
    {
        match tag {
            1 => {
                encoding::int32::merge(wire_type, &mut self.r#type, buf, ctx)?;
                self.type_set = true;
                Ok(())
            }
            2 => encoding::uint64::merge(wire_type, &mut self.term, buf, ctx),
            3 => encoding::uint64::merge(wire_type, &mut self.index, buf, ctx),
            4 => encoding::bytes::merge(wire_type, &mut self.data, buf, ctx),
            _ => encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        let mut n = 0;
        if self.type_on_wire() {
            n += encoding::int32::encoded_len(1, &self.r#type);
        }
        if self.term != 0 {
            n += encoding::uint64::encoded_len(2, &self.term);
        }
        if self.index != 0 {
            n += encoding::uint64::encoded_len(3, &self.index);
        }
        if !self.data.is_empty() {
            n += encoding::bytes::encoded_len(4, &self.data);
        }
        n
    }

    fn clear(&mut self) {
        *self = Entry::default();
    }
}
