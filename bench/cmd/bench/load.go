// How much CPU other processes used while a child ran: the machine's busy
// time from /proc/stat minus the benchmark's own (client child, server,
// driver). Other work on a 2-CPU machine makes req/s and latency noisy;
// CPU per request is affected much less.

package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const userHZ = 100 // USER_HZ on Linux

type cpuSample struct {
	busy, steal float64 // seconds, whole machine
	server      float64 // seconds, server process
	self        float64 // seconds, this driver
	at          time.Time
}

func sampleCPU(serverPID int) cpuSample {
	s := cpuSample{at: time.Now()}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		v := func(i int) float64 {
			if i >= len(f) {
				return 0
			}
			x, _ := strconv.ParseFloat(f[i], 64)
			return x / userHZ
		}
		// cpu user nice system idle iowait irq softirq steal
		s.busy = v(1) + v(2) + v(3) + v(6) + v(7)
		s.steal = v(8)
	}
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(serverPID) + "/stat"); err == nil {
		str := string(b)
		if i := strings.LastIndexByte(str, ')'); i >= 0 {
			f := strings.Fields(str[i+1:])
			if len(f) > 13 { // utime, stime are fields 14, 15 (1-based) of the whole line
				u, _ := strconv.ParseFloat(f[11], 64)
				k, _ := strconv.ParseFloat(f[12], 64)
				s.server = (u + k) / userHZ
			}
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
	}
	return s
}

// foreign returns the CPUs (0..NumCPU) used by other processes and stolen
// by the hypervisor between a and b, given the child's own CPU seconds.
func foreign(a, b cpuSample, child float64) (other, steal float64) {
	wall := b.at.Sub(a.at).Seconds()
	if wall <= 0 {
		return 0, 0
	}
	other = (b.busy - a.busy - (b.server - a.server) - (b.self - a.self) - child) / wall
	return max(other, 0), (b.steal - a.steal) / wall
}
