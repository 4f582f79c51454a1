package main

import _ "go.etcd.io/raft/v3"

func main() {}
