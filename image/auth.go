package image

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
)

// Auth carries the credentials of a CRI AuthConfig for one pull. The zero
// value (or a nil *Auth) pulls anonymously.
type Auth struct {
	Username string
	Password string
	// Auth is base64("username:password"), as in a Docker config file; it
	// is used when Username is empty.
	Auth string
	// IdentityToken is an OAuth2 refresh token, exchanged at the
	// registry's token endpoint.
	IdentityToken string
	// RegistryToken is a bearer token sent as is.
	RegistryToken string
}

func (a *Auth) empty() bool { return a == nil || *a == Auth{} }

// authenticator validates the credentials and turns them into
// go-containerregistry's form.
func (a *Auth) authenticator() (authn.Authenticator, error) {
	if a.empty() {
		return authn.Anonymous, nil
	}
	cfg := authn.AuthConfig{
		Username:      a.Username,
		Password:      a.Password,
		IdentityToken: a.IdentityToken,
		RegistryToken: a.RegistryToken,
	}
	if a.Username == "" && a.Auth != "" {
		raw, err := base64.StdEncoding.DecodeString(a.Auth)
		if err != nil {
			return nil, fmt.Errorf("%w: auth is not base64: %w", ErrInvalidAuth, err)
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("%w: auth is not base64 of \"user:password\"", ErrInvalidAuth)
		}
		cfg.Username, cfg.Password = user, pass
	}
	return authn.FromConfig(cfg), nil
}
