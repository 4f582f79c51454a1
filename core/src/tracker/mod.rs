//! (in progress)
/// Progress of a peer (in progress).
pub struct Progress;
