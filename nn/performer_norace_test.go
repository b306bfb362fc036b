//go:build !race

package nn

const performerRace = false
