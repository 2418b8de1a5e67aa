package wire

// Clock asks an agent for its clock. The hub notes its own clock when it
// sends the request (t0) and when the answer arrives (t3); the agent's
// ClockData says when it received the request (t1) and sent the answer
// (t2) by its own clock. From the four the hub estimates, as NTP does, the
// agent's offset ((t1-t0)+(t2-t3))/2 and the round trip (t3-t0)-(t2-t1),
// which bounds the estimate's error. A Clock carries nothing: who asked
// and when is the hub's to know.
type Clock struct{}

func (*Clock) Type() Type        { return TypeClock }
func (m *Clock) Validate() error { return nil }

// ClockData answers Clock with the agent's wall clock, in Unix
// nanoseconds, when the request arrived and when the answer left.
type ClockData struct {
	Received int64 `json:"received"`
	Sent     int64 `json:"sent"`
}

func (*ClockData) Type() Type        { return TypeClockData }
func (m *ClockData) Validate() error { return nil }
