package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/peerlink/peerlink/web/certs"
	"github.com/peerlink/peerlink/wire"
)

// CredentialsFile is where a standalone broker keeps the hub's last list
// of agents' credentials, under its --data: a broker restarted before the
// hub reconnects still refuses a revoked agent.
func CredentialsFile(dataDir string) string { return filepath.Join(dataDir, "credentials.json") }

// CredentialList is a standalone broker's copy of what the hub recorded
// of its enrolled agents' certificates (the broker cannot read hub.db). It
// decides, by the same rule as the embedded broker (CheckAgent), whom the
// broker admits, and is replaced whenever the hub sends a new list.
type CredentialList struct {
	path string

	mu     sync.Mutex
	known  bool // the hub has sent a list, now or before a restart
	byName map[string]AgentRecord
}

// LoadCredentials reads the list kept under dataDir; an empty one, which
// admits no agent until the hub sends its list, if there is none yet.
func LoadCredentials(dataDir string) (*CredentialList, error) {
	l := &CredentialList{path: CredentialsFile(dataDir), byName: map[string]AgentRecord{}}
	b, err := os.ReadFile(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return nil, fmt.Errorf("agents' credentials: %w", err)
	}
	m := new(wire.Credentials)
	if err := json.Unmarshal(b, m); err == nil {
		err = m.Validate()
	}
	if err != nil {
		return nil, fmt.Errorf("agents' credentials in %s: %w: delete the file; the hub sends the list again when it connects, and agents are refused until then", l.path, err)
	}
	l.set(m)
	return l, nil
}

func (l *CredentialList) set(m *wire.Credentials) {
	byName := make(map[string]AgentRecord, len(m.Agents))
	for _, c := range m.Agents {
		r := AgentRecord{Serial: c.Serial}
		if c.Revoked != 0 {
			r.Revoked = time.Unix(0, c.Revoked)
		}
		byName[c.Name] = r
	}
	l.mu.Lock()
	l.known, l.byName = true, byName
	l.mu.Unlock()
}

// replace takes the hub's new list m, validated: in memory at once, so
// a revocation takes effect even if the disk fails, then on disk
// (temp file + fsync + rename: a crash leaves the old list or the new).
func (l *CredentialList) replace(m *wire.Credentials) error {
	l.set(m)
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := certs.WriteFile(l.path, b); err != nil {
		return fmt.Errorf("keep the agents' credentials in %s: %w: a broker restarted before the hub reconnects would use an older list; free the disk or fix the folder's permissions", l.path, err)
	}
	return nil
}

// Authorize is the standalone broker's Authorizer: any hub certificate
// of the CA (its key never leaves the hub), and an agent's as the hub's
// list says. An agent the list does not know yet is told to try again: it
// may have joined a moment before the hub's new list arrived.
func (l *CredentialList) Authorize(id certs.Identity) error {
	switch id.Role {
	case certs.RoleHub:
		return nil
	case certs.RoleAgent:
	default:
		return fmt.Errorf("a certificate for role %q: only the hub and agents connect", id.Role)
	}
	l.mu.Lock()
	known := l.known
	rec, ok := l.byName[id.Name]
	l.mu.Unlock()
	switch {
	case !known:
		return &wire.Error{Kind: wire.KindTransient, Msg: "this broker has not yet heard from the hub which agents are enrolled: " +
			"start the hub with --broker-url naming this broker; the agent tries again"}
	case !ok:
		return &wire.Error{Kind: wire.KindTransient, Msg: fmt.Sprintf("the hub has not told this broker of agent %s yet (it does when the agent joins, and whenever it connects): "+
			"the agent tries again; if this lasts, check that the hub is connected to this broker", id.Name)}
	}
	return CheckAgent(id, &rec)
}

// SetCredentials has the broker admit peers by their client certificates
// as l decides, and take new lists from the hub. Call it before Serve.
func (s *Server) SetCredentials(l *CredentialList) {
	s.creds = l
	s.authorize = l.Authorize
}

// takeCredentials applies a Credentials frame from p: only the hub,
// connected by its certificate, may send one; anyone else is disconnected
// as a forger. The hub's request is answered OK, or Fail saying why not.
func (s *Server) takeCredentials(p *peer, f wire.Frame) error {
	if p.Role != wire.RoleHub || (s.creds != nil && !p.Certified) {
		err := fmt.Errorf("%w: %s frames come only from the hub, connected by its certificate", wire.ErrFrame, f.Type)
		s.log.Warn().Str("name", p.Name).Str("addr", p.Addr).Err(err).Msg("forged credentials; disconnecting the peer")
		return err
	}
	var werr *wire.Error
	m, err := wire.Decode(f)
	switch {
	case s.creds == nil:
		werr = &wire.Error{Kind: wire.KindInvalid, Op: string(f.Type), Msg: "this broker admits peers by the shared token only: " +
			"run it with --client-ca HUBDATA/tls/ca.pem and a certificate from `peerlink broker-cert create` (--tls-cert, --tls-key) to admit agents by certificate"}
	case err != nil:
		werr = &wire.Error{Kind: wire.KindInvalid, Op: string(f.Type), Msg: err.Error()}
	default:
		c := m.(*wire.Credentials)
		if err := s.creds.replace(c); err != nil {
			s.log.Error().Err(err).Msg("agents' credentials not kept on disk")
			werr = &wire.Error{Kind: wire.KindTransient, Op: string(f.Type), Msg: err.Error()}
		}
		s.log.Info().Int("agents", len(c.Agents)).Msg("agents' credentials received from the hub")
		s.recheck()
	}
	if f.ID == 0 {
		return nil
	}
	var reply wire.Message = &wire.OK{}
	if werr != nil {
		reply = &wire.Fail{Error: *werr}
	}
	b, err := wire.Marshal(p.Name, 0, f.ID, reply, nil)
	if err != nil {
		return err
	}
	_ = p.link.out.put(p.link.ctx, outFrame{hdr: b}) // fails only when p is ending
	return nil
}
