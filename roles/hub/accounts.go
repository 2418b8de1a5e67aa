package hub

import (
	"errors"
	"fmt"
	"time"

	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/web"
	"github.com/peerlink/peerlink/web/api"
)

// Local console accounts, in hub.db with a bcrypt hash of the password.

func apiUser(u store.User) api.User {
	return api.User{Name: u.Name, Role: api.Role(u.Role), Creator: u.Creator, Created: u.Created}
}

// Users lists the local console accounts.
func (h *Hub) Users() ([]api.User, error) {
	list, err := h.db.Users()
	if err != nil {
		return nil, err
	}
	out := make([]api.User, len(list))
	for i, u := range list {
		out[i] = apiUser(u)
	}
	return out, nil
}

// AddUser adds a local console account.
func (h *Hub) AddUser(req api.UserRequest, by string) (api.User, error) {
	if err := api.CheckPersonName("account", req.Name); err != nil {
		return api.User{}, err
	}
	if _, err := api.ParseRole(string(req.Role)); err != nil {
		return api.User{}, err
	}
	if err := api.CheckPassword(req.Password); err != nil {
		return api.User{}, err
	}
	hash, err := web.HashPassword(req.Password)
	if err != nil {
		return api.User{}, err
	}
	u := store.User{Name: req.Name, Role: string(req.Role), Hash: hash, Creator: by, Created: time.Now().UTC()}
	if err := h.db.AddUser(u); err != nil {
		if errors.Is(err, store.ErrExists) {
			return api.User{}, fmt.Errorf("%w: an account named %s exists (change its role with peerlink users set-role)", api.ErrExists, req.Name)
		}
		return api.User{}, err
	}
	h.audit(store.HubLog, "account-added", by, fmt.Sprintf("console account %s added, role %s", req.Name, req.Role))
	return apiUser(u), nil
}

// RemoveUser removes a local account; the last admin account stays.
func (h *Hub) RemoveUser(name, by string) error {
	u, err := h.user(name)
	if err != nil {
		return err
	}
	if err := h.keepAnAdmin(u, ""); err != nil {
		return err
	}
	if err := h.db.DeleteUser(name); err != nil {
		return err
	}
	h.audit(store.HubLog, "account-removed", by, "console account "+name+" removed")
	return nil
}

// SetRole changes a local account's role; the last admin account stays one.
func (h *Hub) SetRole(name string, role api.Role, by string) (api.User, error) {
	if _, err := api.ParseRole(string(role)); err != nil {
		return api.User{}, err
	}
	u, err := h.user(name)
	if err != nil {
		return api.User{}, err
	}
	if err := h.keepAnAdmin(u, role); err != nil {
		return api.User{}, err
	}
	old := u.Role
	u.Role = string(role)
	if err := h.db.PutUser(u); err != nil {
		return api.User{}, err
	}
	h.audit(store.HubLog, "account-role", by, fmt.Sprintf("console account %s: role %s, was %s", name, role, old))
	return apiUser(u), nil
}

// UserHash returns a local account's bcrypt hash and role.
func (h *Hub) UserHash(name string) ([]byte, api.Role, error) {
	u, err := h.user(name)
	if err != nil {
		return nil, "", err
	}
	return u.Hash, api.Role(u.Role), nil
}

func (h *Hub) user(name string) (store.User, error) {
	u, err := h.db.UserByName(name)
	if errors.Is(err, store.ErrNotFound) {
		return u, fmt.Errorf("%w: no console account named %s (see peerlink users list)", api.ErrNotFound, name)
	}
	return u, err
}

// keepAnAdmin refuses to take the admin role from u (removing it when
// role is empty) if it is the last admin account: nobody could manage
// accounts from the console any more.
func (h *Hub) keepAnAdmin(u store.User, role api.Role) error {
	if api.Role(u.Role) != api.RoleAdmin || role == api.RoleAdmin {
		return nil
	}
	list, err := h.db.Users()
	if err != nil {
		return err
	}
	for _, o := range list {
		if o.Name != u.Name && api.Role(o.Role) == api.RoleAdmin {
			return nil
		}
	}
	return fmt.Errorf("%w: %s is the last admin account: add another admin first (peerlink users add --role admin)", api.ErrBusy, u.Name)
}
