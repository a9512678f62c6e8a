package engine

// criuImageFiles are the files CRIU writes into its image directory (-D),
// spelt as CRIU spells them: imgset_template in checkpoint-restore/criu
// criu/image-desc.c, where every name gets ".img" (FD_ENTRY), and the
// stats-%s and irmap-cache service files. The engines that run CRIU own
// these names; any other file in the image directory is the user's.
var criuImageFiles = []string{
	"inventory.img", "fdinfo-%u.img", "pagemap-%lu.img", "pagemap-shmem-%lu.img",
	"pagemap-secretmem-%lu.img", "reg-files.img", "ext-files.img", "ns-files.img", "eventfd.img",
	"eventpoll.img", "eventpoll-tfd.img", "signalfd.img", "inotify.img", "inotify-wd.img",
	"fanotify.img", "fanotify-mark.img", "core-%u.img", "ids-%u.img", "mm-%u.img", "vmas-%u.img",
	"pipes.img", "pipes-data.img", "fifo.img", "fifo-data.img", "pstree.img", "sigacts-%u.img",
	"unixsk.img", "inetsk.img", "packetsk.img", "netlinksk.img", "sk-queues.img", "itimers-%u.img",
	"posix-timers-%u.img", "creds-%u.img", "utsns-%u.img", "ipcns-var-%u.img", "ipcns-shm-%u.img",
	"ipcns-msg-%u.img", "ipcns-sem-%u.img", "fs-%u.img", "remap-fpath.img", "ghost-file-%x.img",
	"memfd.img", "memfd-secret.img", "tcp-stream-%x.img", "mountpoints-%u.img", "netdev-%u.img",
	"netns-%u.img", "ifaddr-%u.img", "route-%u.img", "route6-%u.img", "rule-%u.img",
	"iptables-%u.img", "ip6tables-%u.img", "nftables-%u.img", "tmpfs-%u.tar.gz.img",
	"tmpfs-dev-%u.tar.gz.img", "autofs-%u.img", "binfmt-misc-%u.img", "binfmt-misc.img", "tty.img",
	"tty-info.img", "tty-data.img", "filelocks.img", "rlimit-%u.img", "pages-%u.img", "pages-%d.img",
	"pages-shmem-%ld.img", "signal-s-%u.img", "signal-p-%u.img", "tunfile.img", "cgroup.img",
	"timerfd.img", "cpuinfo.img", "seccomp.img", "userns-%u.img", "netns-ct-%u.img",
	"netns-exp-%u.img", "files.img", "timens-%u.img", "pidns-%u.img", "bpfmap-file.img",
	"bpfmap-data.img", "apparmor.img", "stats-%s", "irmap-cache",
}

// cracFiles are what CRaC's engine adds next to CRIU's images
// (docs/runtimes.md, "Files in DIR"): the dump's log (openjdk/crac
// src/java.base/linux/native/libcriuengine/criuengine.cpp "-o dump4.log"),
// the older executable engine's cppath (src/java.base/unix/native/
// criuengine/criuengine.cpp create_cppath), perfdata (perfMemory_linux.cpp),
// the image constraints and score (libcrcommon image_constraints.cpp "tags",
// image_score.cpp) and the engine record (crac_engine.cpp record_engine).
// The restore writes nothing there: CRIU logs to stderr, its work files go
// to the launcher's directory.
var cracFiles = []string{"dump4.log", "cppath", "perfdata", "tags", "score", "engine"}

// warpFiles: Warp is closed source; its image is a core.img (an ELF core
// file) with metadata whose names are not published (docs/runtimes.md, from
// Azul's documentation). Unknown names are neither listed nor removed: they
// stay, as any file that is not known to be the engine's.
var warpFiles = []string{"core.img"}

// openj9Files: OpenJ9 logs CRIU to criu.log in the image directory unless
// told otherwise (docs/runtimes.md; eclipse-openj9/openj9
// InternalCRIUSupport.java); restore.log was stasis's.
var openj9Files = []string{"criu.log", "restore.log"}

// criuFiles: the criu engine's logs (-o, named by stasis) and its stdio FIFOs.
var criuFiles = []string{"dump.log", "restore.log", "stdout.fifo", "stderr.fifo"}

func withCRIU(own []string) []string { return append(append([]string{}, criuImageFiles...), own...) }

func (e *CRaC) ImageFiles() []string {
	if e.Warp {
		return withCRIU(append(append([]string{}, cracFiles...), warpFiles...))
	}
	return withCRIU(cracFiles)
}
func (*OpenJ9) ImageFiles() []string { return withCRIU(openj9Files) }
func (*CRIU) ImageFiles() []string   { return withCRIU(criuFiles) }
