//go:build !linux

package pidspace

import "errors"

// LastPID is Linux-only.
func LastPID() (int, error) { return 0, errors.ErrUnsupported }

// PIDMax is Linux-only.
func PIDMax() (int, error) { return 0, errors.ErrUnsupported }

// AdvanceByWriting is Linux-only.
func AdvanceByWriting(target int) error { return errors.ErrUnsupported }

// AdvanceByBurning is Linux-only.
func AdvanceByBurning(target int) error { return errors.ErrUnsupported }

// Holder is Linux-only.
func Holder(pid int) (free bool, who string, err error) { return false, "", errors.ErrUnsupported }

func denied(err error) bool { return false }
