module stasis

go 1.26.0

require (
	github.com/caarlos0/env/v11 v11.4.2
	github.com/hashicorp/go-multierror v1.1.1
	github.com/lmittmann/tint v1.2.1
	golang.org/x/sys v0.49.0
)

require github.com/hashicorp/errwrap v1.0.0 // indirect
