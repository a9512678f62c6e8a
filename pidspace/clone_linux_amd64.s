#include "textflag.h"

// func cloneExit(flags uintptr) (pid uintptr, errno uintptr)
TEXT ·cloneExit(SB),NOSPLIT|NOFRAME,$0-24
	MOVQ	flags+0(FP), DI
	MOVQ	$0, SI	// newsp: 0 keeps the parent's stack, which the child never touches
	MOVQ	$0, DX	// parent_tid
	MOVQ	$0, R10	// child_tid
	MOVQ	$0, R8	// tls
	MOVQ	$56, AX	// SYS_clone
	SYSCALL
	CMPQ	AX, $0
	JNE	parent
	MOVQ	$0, DI
	MOVQ	$60, AX	// SYS_exit: the child ends here
	SYSCALL
	JMP	0(PC)	// unreachable
parent:
	CMPQ	AX, $0xfffffffffffff001
	JLS	ok
	MOVQ	$0, pid+8(FP)
	NEGQ	AX
	MOVQ	AX, errno+16(FP)
	RET
ok:
	MOVQ	AX, pid+8(FP)
	MOVQ	$0, errno+16(FP)
	RET
