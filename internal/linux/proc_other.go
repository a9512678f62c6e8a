//go:build !linux

package linux

import "errors"

func ReadStat(pid int) (Stat, error)     { return Stat{}, errors.ErrUnsupported }
func ReadStatus(pid int) (Status, error) { return Status{}, errors.ErrUnsupported }
func Catches(pid, sig int) bool          { return false }
func Children(pid int) []int             { return nil }
func ReadMaps(pid int) ([]string, error) { return nil, errors.ErrUnsupported }
func ReadInt(path string) (int, error)   { return 0, errors.ErrUnsupported }
func CapLast() (int, error)              { return 0, errors.ErrUnsupported }
