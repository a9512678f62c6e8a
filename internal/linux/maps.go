package linux

import "bytes"

// MappedFiles lists the path names of the file mappings in a
// /proc/PID/maps, in order, with repeats: the sixth column, which may hold
// spaces and ends in " (deleted)" for a file since removed.
func MappedFiles(maps []byte) []string {
	var out []string
	for line := range bytes.Lines(maps) {
		line = bytes.TrimSuffix(line, []byte("\n"))
		// address perms offset dev inode, then padding, then the path.
		f := line
		for range 5 {
			_, f, _ = bytes.Cut(bytes.TrimLeft(f, " "), []byte(" "))
		}
		if p := bytes.TrimLeft(f, " "); len(p) > 0 && p[0] == '/' {
			out = append(out, string(p))
		}
	}
	return out
}
