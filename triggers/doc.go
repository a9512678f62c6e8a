// Package triggers decides when the JVM is ready to be checkpointed and warms
// it up first: it parses STASIS_CHECKPOINT_ON into a Spec, waits until every
// condition of it holds (Waiter), and runs the warm-up (Warmup). The HotSpot
// attach client lives in attach.
//
// It receives explicit values and a *slog.Logger and never reads STASIS_*
// variables itself. It may import healthcheck; it must not import supervisor,
// stdio, pidspace or cmd/stasis (imports point supervisor → triggers →
// healthcheck).
//
// # STASIS_CHECKPOINT_ON
//
// A comma-separated list; all conditions must hold:
//
//	http://HOST[:PORT]/PATH  a GET answers 2xx (https:// too: the certificate is
//	                         verified unless STASIS_PROBE_INSECURE=true and the
//	                         target is on the loopback interface)
//	tcp://HOST:PORT          a connection is accepted
//	log:REGEX                a line of the JVM's stdout or stderr matches REGEX
//	file:PATH                PATH exists
//	delay:DURATION           DURATION has passed since the JVM started
//	manual                   `stasis checkpoint` was run
//	app                      the app checkpoints itself; stasis does not wait
//
// Commas in a regex: a log: item runs up to the next comma that is followed
// (after optional spaces) by the start of another item (http://, https://,
// tcp://, log:, file:, delay:, or manual or app standing alone), or to the
// end. So `log:a{1,3} started,tcp://h:1` is the regex `a{1,3} started` and a
// TCP probe. To keep such a sequence inside a regex, write the comma as `[,]`
// or `\x2c`. Spaces around items are trimmed; spaces inside a regex are kept.
//
// `app` must stand alone: when the app checkpoints itself, stasis cannot make
// it wait for other conditions, so combining them would promise something
// stasis does not do. An empty string means no conditions (the caller decides
// what that means); an empty item, an unknown scheme or a duplicate item is an
// error.
package triggers
