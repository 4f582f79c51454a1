package polyraft

// Extensions are polyraft's options beyond etcd raft's Config (which this
// package shares with etcd, type for type). The zero value is etcd's
// behaviour: NewRawNode(cfg) is NewRawNodeWithExtensions(cfg, Extensions{}).
type Extensions struct {
	// Priority is this node's election priority (raft-rs's priority); 0,
	// the default, is off. A voter refuses a candidate whose log is exactly
	// as up to date as its own (same last term and index) but whose
	// priority is lower than its own, so among equally current replicas
	// the highest priority becomes leader; leadership transfers are exempt.
	// Candidates send it in MsgVote and MsgPreVote as raftpb field 16,
	// which etcd nodes skip: etcd and polyraft nodes mix in one cluster
	// (an etcd node counts as priority 0). The field survives only on the
	// wire: ReadyWire's messages and StepBytes keep it, while Ready's
	// etcd-typed *pb.Message has no such field.
	Priority int64
	// BatchAppend merges the appends a leader queues for one peer before a
	// Ready into one MsgApp, within Config.MaxSizePerMsg (raft-rs's
	// batch_append). Off by default: etcd's messages, one per send.
	BatchAppend bool
}

// NewRawNodeWithExtensions is NewRawNode with polyraft's options beyond
// etcd (see Extensions).
func NewRawNodeWithExtensions(cfg *Config, ext Extensions) (*RawNode, error) {
	return newRawNode(cfg, ext)
}
