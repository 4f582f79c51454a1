package polyraft

/*
#include "polyraft.h"
*/
import "C"

import (
	"log"
	"os"
	"reflect"
	"sync"
)

// The library's log lines go to the node's Config.Logger (etcd's Logger
// interface) through a callback, on the goroutine of the node call that
// logs: nothing is written to standard error behind Go's back. A nil
// Config.Logger means the package logger, as in etcd.

var (
	loggerMu  sync.Mutex
	pkgLogger = newDefaultLogger()
)

// newDefaultLogger is etcd's default: standard error, prefix "raft", debug
// lines off.
func newDefaultLogger() Logger {
	return &DefaultLogger{Logger: log.New(os.Stderr, "raft", log.LstdFlags)}
}

// SetLogger sets the package logger, used by nodes created afterwards
// with a nil Config.Logger (etcd's SetLogger).
func SetLogger(l Logger) {
	loggerMu.Lock()
	defer loggerMu.Unlock()
	pkgLogger = l
}

// ResetDefaultLogger restores the default package logger (etcd's).
func ResetDefaultLogger() { SetLogger(newDefaultLogger()) }

func getLogger() Logger {
	loggerMu.Lock()
	defer loggerMu.Unlock()
	return pkgLogger
}

type discardLogger struct{}

func (discardLogger) Debug(...any)            {}
func (discardLogger) Debugf(string, ...any)   {}
func (discardLogger) Error(...any)            {}
func (discardLogger) Errorf(string, ...any)   {}
func (discardLogger) Info(...any)             {}
func (discardLogger) Infof(string, ...any)    {}
func (discardLogger) Warning(...any)          {}
func (discardLogger) Warningf(string, ...any) {}
func (discardLogger) Fatal(...any)            {}
func (discardLogger) Fatalf(string, ...any)   {}
func (discardLogger) Panic(...any)            {}
func (discardLogger) Panicf(string, ...any)   {}

// DiscardLogger drops every line; with it the library does not even
// format them.
var DiscardLogger Logger = discardLogger{}

// libLogLevel is the lowest level worth formatting in the library for l:
// nothing for DiscardLogger, info for an etcd DefaultLogger without debug
// (it would drop debug lines), debug for any other logger (which decides).
func libLogLevel(l Logger) C.uint32_t {
	switch d := l.(type) {
	case discardLogger:
		return C.POLYRAFT_LOG_OFF
	case *DefaultLogger:
		if d == nil {
			return C.POLYRAFT_LOG_OFF
		}
		// The flag is unexported; reading it through reflection is allowed.
		if f := reflect.ValueOf(d).Elem().FieldByName("debug"); f.IsValid() && f.Kind() == reflect.Bool && !f.Bool() {
			return C.POLYRAFT_LOG_INFO
		}
	}
	return C.POLYRAFT_LOG_DEBUG
}

// logLine hands one library line to l at its level.
func logLine(l Logger, level C.uint32_t, line string) {
	switch level {
	case C.POLYRAFT_LOG_DEBUG:
		l.Debug(line)
	case C.POLYRAFT_LOG_INFO:
		l.Info(line)
	case C.POLYRAFT_LOG_WARN:
		l.Warning(line)
	default:
		l.Error(line)
	}
}
