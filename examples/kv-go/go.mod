module github.com/polyraft/polyraft/examples/kv-go

go 1.26

require github.com/polyraft/polyraft/go v0.0.0

replace github.com/polyraft/polyraft/go => ../../go
