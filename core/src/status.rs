//! Status and BasicStatus (mirrors etcd's status.go). (in progress)

/// Cheap status without progress. (in progress)
#[derive(Debug, Clone, Default)]
pub struct BasicStatus;
/// Full status. (in progress)
#[derive(Debug, Clone, Default)]
pub struct Status;
