package polyraft

import (
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/encoding/protowire"
)

// ConfChangeAddWitnessNode adds a witness: a voter that receives entry
// metadata (index, term, type) without payloads, keeps no state machine
// and never becomes leader (beyond etcd raft; docs/witness.md in the
// repository). etcd's raftpb has no name for this value; etcd nodes refuse
// it. Use it as the Type of a ConfChange or ConfChangeSingle.
const ConfChangeAddWitnessNode = pb.ConfChangeType(4)

// witnessesField is polyraft's ConfState field listing the witnesses
// (repeated uint64, unpacked). etcd's ConfState has no such field: the
// witnesses travel in its unknown fields, which protobuf keeps through
// Marshal and Unmarshal, so a ConfState returned by ApplyConfChange and
// handed back to CreateSnapshot (or stored and reloaded) keeps them.
const witnessesField protowire.Number = 6

// Witnesses returns the voters of cs that are witnesses (empty without
// witnesses). A malformed unknown-field section reads as no witnesses.
func Witnesses(cs *pb.ConfState) []uint64 {
	if cs == nil {
		return nil
	}
	var ids []uint64
	b := []byte(cs.ProtoReflect().GetUnknown())
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil
		}
		b = b[n:]
		if num == witnessesField && typ == protowire.VarintType {
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return nil
			}
			ids = append(ids, v)
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return nil
		}
		b = b[m:]
	}
	return ids
}

// SetWitnesses records ids as the witnesses of cs (replacing any), keeping
// its other unknown fields. ids must be voters of cs; the library refuses a
// ConfState whose witnesses are not.
func SetWitnesses(cs *pb.ConfState, ids []uint64) {
	if cs == nil {
		return
	}
	var kept []byte
	b := []byte(cs.ProtoReflect().GetUnknown())
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			break
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			break
		}
		if num != witnessesField {
			kept = append(kept, b[:n+m]...)
		}
		b = b[n+m:]
	}
	for _, id := range ids {
		kept = protowire.AppendTag(kept, witnessesField, protowire.VarintType)
		kept = protowire.AppendVarint(kept, id)
	}
	cs.ProtoReflect().SetUnknown(kept)
}

// Witnesses returns the witnesses of the node's active configuration
// (beyond etcd: etcd's Status has no place for them).
func (rn *RawNode) Witnesses() []uint64 {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	d, err := rn.detailLocked("witnesses")
	if err != nil {
		return nil
	}
	return Witnesses(d.config)
}
