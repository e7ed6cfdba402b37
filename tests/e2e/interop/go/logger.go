package main

import (
	"fmt"
	"log"
	"os"
)

// stderrLogger is the go-log StandardLogger edgevpn wants. edgevpn's own logger writes to
// stdout, which carries the control protocol here, so this one writes to stderr.
type stderrLogger struct {
	level int // 0 debug, 1 info, 2 warn, 3 error
	out   *log.Logger
}

func newStderrLogger(level string) *stderrLogger {
	levels := map[string]int{"debug": 0, "info": 1, "warn": 2, "error": 3}
	l, ok := levels[level]
	if !ok {
		l = 3
	}
	return &stderrLogger{level: l, out: log.New(os.Stderr, "go-peer ", log.Lmicroseconds)}
}

func (l *stderrLogger) at(level int, prefix string, msg string) {
	if level >= l.level {
		l.out.Print(prefix, msg)
	}
}

func (l *stderrLogger) Debug(args ...any)              { l.at(0, "DEBUG ", fmt.Sprint(args...)) }
func (l *stderrLogger) Debugf(f string, args ...any)   { l.at(0, "DEBUG ", fmt.Sprintf(f, args...)) }
func (l *stderrLogger) Info(args ...any)               { l.at(1, "INFO ", fmt.Sprint(args...)) }
func (l *stderrLogger) Infof(f string, args ...any)    { l.at(1, "INFO ", fmt.Sprintf(f, args...)) }
func (l *stderrLogger) Warn(args ...any)               { l.at(2, "WARN ", fmt.Sprint(args...)) }
func (l *stderrLogger) Warnf(f string, args ...any)    { l.at(2, "WARN ", fmt.Sprintf(f, args...)) }
func (l *stderrLogger) Warning(args ...any)            { l.Warn(args...) }
func (l *stderrLogger) Warningf(f string, args ...any) { l.Warnf(f, args...) }
func (l *stderrLogger) Error(args ...any)              { l.at(3, "ERROR ", fmt.Sprint(args...)) }
func (l *stderrLogger) Errorf(f string, args ...any)   { l.at(3, "ERROR ", fmt.Sprintf(f, args...)) }

// Fatal and Panic are never meant to end this process from library code: log them loudly.
func (l *stderrLogger) Fatal(args ...any)            { l.at(3, "FATAL ", fmt.Sprint(args...)) }
func (l *stderrLogger) Fatalf(f string, args ...any) { l.at(3, "FATAL ", fmt.Sprintf(f, args...)) }
func (l *stderrLogger) Panic(args ...any)            { l.at(3, "PANIC ", fmt.Sprint(args...)) }
func (l *stderrLogger) Panicf(f string, args ...any) { l.at(3, "PANIC ", fmt.Sprintf(f, args...)) }
