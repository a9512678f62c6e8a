package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// perfSize is the double's PerfData region: one page, where HotSpot's is
// PerfDataMemorySize (32 KiB by default); only the size's being a multiple
// of the page size matters here.
const perfSize = 4096

// perfMemory is HotSpot's PerfData region with CRaC's handling of it
// (openjdk/crac src/hotspot/os/linux/perfMemory_linux.cpp): unless
// -XX:+PerfDisableSharedMem or -XX:-UsePerfData, the region is a MAP_SHARED
// mapping of /tmp/hsperfdata_USER/PID. At a checkpoint
// (PerfMemoryLinux::checkpoint) the region is copied to DIR/perfdata and
// remapped MAP_SHARED onto it, its descriptor kept open, so CRIU records
// the image's file rather than /tmp's. After a restore
// (PerfMemoryLinux::restore) it is copied to a new /tmp/hsperfdata_USER/PID
// and remapped there, and DIR/perfdata's descriptor closed. The double's
// only counter is the tick count, updated under the application lock, so
// nothing writes the region during the checkpoint.
type perfMemory struct {
	addr         unsafe.Pointer
	backing      string // /tmp/hsperfdata_USER/PID
	checkpointFD int
}

func newPerfMemory(o options) (*perfMemory, error) {
	if o.vmFlags["PerfDisableSharedMem"] || o.vmFlagOff["UsePerfData"] {
		return nil, nil
	}
	p := &perfMemory{checkpointFD: -1}
	fd, err := p.createBacking()
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	addr, err := unix.MmapPtr(fd, 0, nil, perfSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", p.backing, err)
	}
	p.addr = addr
	return p, nil
}

// createBacking creates /tmp/hsperfdata_USER/PID at the region's size.
func (p *perfMemory) createBacking() (int, error) {
	name := "root"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	dir := filepath.Join("/tmp", "hsperfdata_"+name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return -1, err
	}
	p.backing = filepath.Join(dir, strconv.Itoa(os.Getpid()))
	fd, err := unix.Open(p.backing, unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return -1, fmt.Errorf("create %s: %w", p.backing, err)
	}
	if err := unix.Ftruncate(fd, perfSize); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func (p *perfMemory) region() []byte {
	return unsafe.Slice((*byte)(p.addr), perfSize)
}

// setTicks updates the double's one counter.
func (p *perfMemory) setTicks(n int64) {
	if p != nil {
		binary.LittleEndian.PutUint64(p.region(), uint64(n))
	}
}

// remap writes the region into fd and maps it MAP_FIXED|MAP_SHARED there.
func (p *perfMemory) remap(fd int) error {
	data := append([]byte(nil), p.region()...)
	if _, err := unix.Pwrite(fd, data, 0); err != nil {
		return err
	}
	_, err := unix.MmapPtr(fd, 0, p.addr, perfSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_FIXED|unix.MAP_SHARED)
	return err
}

// checkpoint is PerfMemoryLinux::checkpoint.
func (p *perfMemory) checkpoint(dir string) error {
	if p == nil {
		return nil
	}
	fd, err := unix.Open(filepath.Join(dir, "perfdata"), unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("cannot open checkpoint perfdata: %w", err)
	}
	if err := p.remap(fd); err != nil {
		unix.Close(fd)
		return fmt.Errorf("cannot mmap checkpoint perfdata file: %w", err)
	}
	p.checkpointFD = fd
	return nil
}

// checkpointFailed is PerfMemoryLinux::checkpoint_fail: back to /tmp.
func (p *perfMemory) checkpointFailed() {
	if p == nil || p.checkpointFD < 0 {
		return
	}
	if fd, err := unix.Open(p.backing, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600); err == nil {
		p.remap(fd)
		unix.Close(fd)
	}
	unix.Close(p.checkpointFD)
	p.checkpointFD = -1
}

// restored is PerfMemoryLinux::restore: a new backing file for the new
// process, and DIR/perfdata let go.
func (p *perfMemory) restored() {
	if p == nil || p.checkpointFD < 0 {
		return
	}
	if fd, err := p.createBacking(); err == nil {
		if err := p.remap(fd); err != nil {
			fmt.Printf("cannot mmap restore perfdata file: %v\n", err)
		}
		unix.Close(fd)
	}
	unix.Close(p.checkpointFD)
	p.checkpointFD = -1
}

// remove is delete_shared_memory at exit.
func (p *perfMemory) remove() {
	if p != nil {
		os.Remove(p.backing)
	}
}
