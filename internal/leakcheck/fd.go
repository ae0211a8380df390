// Listing of this process's open file descriptors through /proc/self/fd.

package leakcheck

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

const fdDir = "/proc/self/fd"

// openFDs maps each open descriptor to its readlink target. ok is false
// where /proc/self/fd cannot be read; descriptors are not checked there.
func openFDs() (fds map[int]string, ok bool) {
	// Opening the directory also starts the runtime's netpoller (its
	// epoll and event descriptors live as long as the process), so a
	// Snapshot taken before the first network use does not later count
	// them as leaks.
	d, err := os.Open(fdDir)
	if err != nil {
		return nil, false
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, false
	}
	fds = make(map[int]string, len(names))
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		// The directory's own descriptor is closed by now, so its
		// readlink fails and it is left out of every listing.
		target, err := os.Readlink(fdDir + "/" + name)
		if err != nil {
			continue
		}
		fds[fd] = target
	}
	return fds, true
}

// extraFDs lists the descriptors in now that base lacks or that point
// elsewhere than they did in base, sorted by number.
func extraFDs(base, now map[int]string) []string {
	var nums []int
	for fd, target := range now {
		if old, ok := base[fd]; !ok || old != target {
			nums = append(nums, fd)
		}
	}
	sort.Ints(nums)
	out := make([]string, len(nums))
	for i, fd := range nums {
		out[i] = fmt.Sprintf("fd %d -> %s", fd, now[fd])
	}
	return out
}

func formatFDs(fds []string) string {
	return strings.Join(fds, "\n")
}
