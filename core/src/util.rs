//! Small helpers shared by the state machine.
