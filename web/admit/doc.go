// Package admit bounds the requests a server serves before it knows who
// sent them: so many at once from one client address, so many from all
// addresses together, so that a flood of unauthenticated connections
// costs a bounded amount of memory and one address cannot take every place.
package admit
