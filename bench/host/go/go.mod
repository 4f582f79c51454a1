module github.com/polyraft/polyraft/bench/host/go

go 1.26

require github.com/polyraft/polyraft/go v0.0.0

require (
	go.etcd.io/raft/v3 v3.7.0 // indirect
	google.golang.org/protobuf v1.36.11 // indirect
)

replace github.com/polyraft/polyraft/go => ../../../go
