package web

import (
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"github.com/peerlink/peerlink/web/api"
)

// fakePeople is the tokens and accounts of a fakeHub. The admin account's
// password is testPassword, and the shared token signs people in (an
// upgraded hub) unless shared is cleared.
type fakePeople struct {
	mu       sync.Mutex
	shared   bool
	tokens   map[string]api.APIToken // by name
	hashes   map[string]string       // secret hash -> token name
	revoked  map[string]*api.RevokedError
	users    map[string]api.User
	hashes2  map[string][]byte // account -> bcrypt hash
	released []string          // "session path by" of each ReleaseLock
	n        int
}

func newFakePeople(adminHash []byte) *fakePeople {
	return &fakePeople{shared: true, tokens: map[string]api.APIToken{}, hashes: map[string]string{}, revoked: map[string]*api.RevokedError{},
		users: map[string]api.User{AdminUser: {Name: AdminUser, Role: api.RoleAdmin}}, hashes2: map[string][]byte{AdminUser: adminHash}}
}

func (f *fakeHub) Tokens() ([]api.APIToken, error) {
	f.ppl.mu.Lock()
	defer f.ppl.mu.Unlock()
	out := []api.APIToken{}
	for _, t := range f.ppl.tokens {
		out = append(out, t)
	}
	return out, nil
}

func (f *fakeHub) CreateToken(req api.TokenRequest, by string) (api.NewToken, error) {
	p := f.ppl
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.tokens[req.Name]; ok {
		return api.NewToken{}, fmt.Errorf("%w: token %s", api.ErrExists, req.Name)
	}
	p.n++
	secret := fmt.Sprintf("%s%043d", api.TokenPrefix, p.n)
	sum := sha256.Sum256([]byte(secret))
	t := api.APIToken{Name: req.Name, Role: req.Role, Creator: by, Created: time.Now()}
	if req.TTL != 0 {
		t.Expires = time.Now().Add(time.Duration(req.TTL))
	}
	p.tokens[req.Name] = t
	p.hashes[string(sum[:])] = req.Name
	return api.NewToken{APIToken: t, Secret: secret}, nil
}

func (f *fakeHub) RevokeToken(name, by string) error {
	p := f.ppl
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.tokens[name]; !ok {
		return fmt.Errorf("%w: token %s", api.ErrNotFound, name)
	}
	delete(p.tokens, name)
	for h, n := range p.hashes {
		if n == name {
			delete(p.hashes, h)
			p.revoked[h] = &api.RevokedError{Name: name, By: by, When: time.Now()}
		}
	}
	return nil
}

func (f *fakeHub) TokenByHash(hash []byte) (api.APIToken, error) {
	p := f.ppl
	p.mu.Lock()
	defer p.mu.Unlock()
	if r := p.revoked[string(hash)]; r != nil {
		return api.APIToken{}, r
	}
	name, ok := p.hashes[string(hash)]
	if !ok {
		return api.APIToken{}, api.ErrNotFound
	}
	return p.tokens[name], nil
}

func (f *fakeHub) SharedTokenForPeople() bool {
	f.ppl.mu.Lock()
	defer f.ppl.mu.Unlock()
	return f.ppl.shared
}

func (f *fakeHub) RetireSharedToken(by string) error {
	f.ppl.mu.Lock()
	defer f.ppl.mu.Unlock()
	f.ppl.shared = false
	return nil
}

func (f *fakeHub) Users() ([]api.User, error) {
	f.ppl.mu.Lock()
	defer f.ppl.mu.Unlock()
	out := []api.User{}
	for _, u := range f.ppl.users {
		out = append(out, u)
	}
	return out, nil
}

func (f *fakeHub) AddUser(req api.UserRequest, by string) (api.User, error) {
	hash, err := HashPassword(req.Password)
	if err != nil {
		return api.User{}, err
	}
	p := f.ppl
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.users[req.Name]; ok {
		return api.User{}, fmt.Errorf("%w: account %s", api.ErrExists, req.Name)
	}
	u := api.User{Name: req.Name, Role: req.Role, Creator: by}
	p.users[req.Name], p.hashes2[req.Name] = u, hash
	return u, nil
}

func (f *fakeHub) RemoveUser(name, by string) error {
	p := f.ppl
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.users[name]; !ok {
		return fmt.Errorf("%w: account %s", api.ErrNotFound, name)
	}
	delete(p.users, name)
	delete(p.hashes2, name)
	return nil
}

func (f *fakeHub) SetRole(name string, role api.Role, by string) (api.User, error) {
	p := f.ppl
	p.mu.Lock()
	defer p.mu.Unlock()
	u, ok := p.users[name]
	if !ok {
		return api.User{}, fmt.Errorf("%w: account %s", api.ErrNotFound, name)
	}
	u.Role = role
	p.users[name] = u
	return u, nil
}

func (f *fakeHub) UserHash(name string) ([]byte, api.Role, error) {
	p := f.ppl
	p.mu.Lock()
	defer p.mu.Unlock()
	u, ok := p.users[name]
	if !ok {
		return nil, "", fmt.Errorf("%w: account %s", api.ErrNotFound, name)
	}
	return p.hashes2[name], u.Role, nil
}

func (f *fakeHub) ReleaseLock(session, path, by string) (api.Released, error) {
	if session != "s" {
		return api.Released{}, notFound(session)
	}
	f.ppl.mu.Lock()
	defer f.ppl.mu.Unlock()
	f.ppl.released = append(f.ppl.released, session+" "+path+" "+by)
	return api.Released{Path: path, Source: "a", Targets: []string{"b"}}, nil
}
