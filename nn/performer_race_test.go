//go:build race

package nn

// performerRace: the race detector makes sync.Pool drop items, so
// allocation counts are meaningless.
const performerRace = true
