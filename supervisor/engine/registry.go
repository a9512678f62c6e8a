package engine

// registry lists every engine: adding one is its file plus one line here.
var registry = []func() Engine{
	func() Engine { return &CRaC{} },
	func() Engine { return &CRaC{Warp: true} },
	func() Engine { return &OpenJ9{} },
	func() Engine { return &CRIU{} },
}

// New returns the engine by name (not "auto": see Detect), or nil.
func New(name string) Engine {
	for _, mk := range registry {
		if e := mk(); e.Name() == name {
			return e
		}
	}
	return nil
}

// Names lists the engines' names, in registry order.
func Names() []string {
	names := make([]string, 0, len(registry))
	for _, mk := range registry {
		names = append(names, mk().Name())
	}
	return names
}

// NamesWith lists, in registry order, the engines whose facts pass keep.
func NamesWith(keep func(Facts) bool) []string {
	var names []string
	for _, mk := range registry {
		if e := mk(); keep(e.Facts()) {
			names = append(names, e.Name())
		}
	}
	return names
}

// FactsOf returns the facts of the named engine; ok is false for an
// unknown name.
func FactsOf(name string) (f Facts, ok bool) {
	if e := New(name); e != nil {
		return e.Facts(), true
	}
	return Facts{}, false
}
