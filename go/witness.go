package polyraft

import pb "go.etcd.io/raft/v3/raftpb"

// ConfChangeAddWitnessNode adds a witness: a voter that receives entry
// metadata (index, term, type) without payloads, keeps no state machine
// and never becomes leader (beyond etcd raft; docs/witness.md in the
// repository). etcd's raftpb has no name for this value; etcd nodes refuse
// it. Use it as the Type of a ConfChange or ConfChangeSingle.
//
// etcd's ConfState has no field for witnesses: a ConfState returned by
// ApplyConfChange lists a witness among the voters only. An application
// that builds snapshots from such a ConfState loses the mark, so witnesses
// are meant to be run on the host (package host: AddWitness and
// StartWitness), which keeps the full configuration itself.
const ConfChangeAddWitnessNode = pb.ConfChangeType(4)
