// placeholder: the conformance runner is written by the rafttest work
