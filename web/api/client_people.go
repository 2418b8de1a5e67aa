package api

import (
	"context"
	"net/http"
	"net/url"
)

// Tokens lists the hub's API tokens (admin).
func (c *Client) Tokens(ctx context.Context) ([]APIToken, error) {
	var out []APIToken
	err := c.do(ctx, http.MethodGet, "/api/v1/tokens", nil, &out)
	return out, err
}

// CreateToken makes an API token; its secret is in the answer only (admin).
func (c *Client) CreateToken(ctx context.Context, req TokenRequest) (NewToken, error) {
	var out NewToken
	err := c.do(ctx, http.MethodPost, "/api/v1/tokens", req, &out)
	return out, err
}

// RevokeToken deletes the named API token: its next request is refused (admin).
func (c *Client) RevokeToken(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/tokens/"+url.PathEscape(name), nil, nil)
}

// RetireSharedToken stops the hub's shared token signing people in: the
// migration step of a hub upgraded from it (admin).
func (c *Client) RetireSharedToken(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/api/v1/tokens/retire-shared", nil, nil)
}

// Users lists the local console accounts (admin).
func (c *Client) Users(ctx context.Context) ([]User, error) {
	var out []User
	err := c.do(ctx, http.MethodGet, "/api/v1/users", nil, &out)
	return out, err
}

// AddUser adds a local console account (admin).
func (c *Client) AddUser(ctx context.Context, req UserRequest) (User, error) {
	var out User
	err := c.do(ctx, http.MethodPost, "/api/v1/users", req, &out)
	return out, err
}

// RemoveUser removes a local console account (admin).
func (c *Client) RemoveUser(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/users/"+url.PathEscape(name), nil, nil)
}

// SetRole changes an account's role (admin).
func (c *Client) SetRole(ctx context.Context, name string, role Role) (User, error) {
	var out User
	err := c.do(ctx, http.MethodPut, "/api/v1/users/"+url.PathEscape(name)+"/role", RoleRequest{Role: role}, &out)
	return out, err
}

// ReleaseLock releases a file's lock by hand: every target's copy is
// restored as on a normal release (helpdesk).
func (c *Client) ReleaseLock(ctx context.Context, session, path string) (Released, error) {
	var out Released
	err := c.do(ctx, http.MethodPost, sessionPath(session)+"/locks/release", ReleaseRequest{Path: path}, &out)
	return out, err
}
