// Package admit bounds the requests a server serves before it knows who
// sent them: so many at once from one client address, so many from all
// addresses together, so that a flood of unauthenticated connections
// costs a bounded amount of memory and one address cannot take every place;
// and so many refusals (a wrong password, an unknown join code) from one
// address in a window before it must wait for the window to end.
package admit
