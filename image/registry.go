package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// session is an authenticated conversation with one endpoint about one
// repository. go-containerregistry does the handshake (ping, basic or
// bearer challenge, token exchange) and fetches manifests; blobs are read
// with a plain GET through the same authenticated transport so that the
// store hashes each byte once, as it writes it.
type session struct {
	ep     endpoint
	repo   name.Repository
	rt     http.RoundTripper
	client *http.Client
}

func (s *Store) connect(ctx context.Context, ep endpoint, ref Reference, auth authn.Authenticator) (*session, error) {
	var opts []name.Option
	if ep.scheme == "http" {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(ep.host, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: endpoint %s: %w", ErrInvalidReference, ep, err)
	}
	repo := reg.Repo(ref.Path)
	base := transport.NewRetry(&schemeGuard{ep: ep, next: s.transport},
		transport.WithRetryBackoff(transport.Backoff{Duration: 100 * time.Millisecond, Factor: 3, Jitter: 0.1, Steps: 2}))
	rt, err := transport.NewWithContext(ctx, reg, auth, base, []string{repo.Scope(transport.PullScope)})
	if err != nil {
		return nil, classifyRemote(ctx, err, true)
	}
	return &session{ep: ep, repo: repo, rt: rt, client: &http.Client{Transport: rt}}, nil
}

// fetched is a manifest or index as the registry returned it.
type fetched struct {
	digest    string
	mediaType string
	data      []byte
}

// manifest fetches the manifest or index named by a tag or digest.
func (se *session) manifest(ctx context.Context, identifier string) (*fetched, error) {
	var ref name.Reference
	if _, err := parseDigest(identifier); err == nil {
		ref = se.repo.Digest(identifier)
	} else {
		ref = se.repo.Tag(identifier)
	}
	d, err := remote.Get(ref, remote.WithTransport(se.rt), remote.WithContext(ctx))
	if err != nil {
		return nil, classifyRemote(ctx, err, false)
	}
	return &fetched{digest: d.Digest.String(), mediaType: string(d.MediaType), data: d.Manifest}, nil
}

// blob opens the blob for reading. The caller closes it.
func (se *session) blob(ctx context.Context, digest string) (io.ReadCloser, error) {
	u := url.URL{Scheme: se.ep.scheme, Host: se.ep.host, Path: "/v2/" + se.repo.RepositoryStr() + "/blobs/" + digest}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidReference, err)
	}
	resp, err := se.client.Do(req)
	if err != nil {
		return nil, classifyRemote(ctx, err, false)
	}
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		resp.Body.Close()
		return nil, classifyRemote(ctx, err, false)
	}
	return resp.Body, nil
}

// ctxError classifies a done context.
func ctxError(ctx context.Context) error {
	err := ctx.Err()
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrDeadlineExceeded, err)
	}
	if cause := context.Cause(ctx); errors.Is(cause, ErrClosed) {
		return cause
	}
	return fmt.Errorf("%w: %w", ErrCanceled, err)
}

// classifyRemote gives an error of a registry conversation its class. ping
// marks errors of the handshake, where only an authentication refusal is a
// real answer: anything else means the endpoint is not a usable registry.
func classifyRemote(ctx context.Context, err error, ping bool) error {
	if ctx.Err() != nil {
		return ctxError(ctx)
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %w", ErrDeadlineExceeded, err)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: %w", ErrCanceled, err)
	}
	var te *transport.Error
	if errors.As(err, &te) {
		class := statusClass(te)
		if ping && class != ErrUnauthenticated {
			class = ErrUnavailable
		}
		return fmt.Errorf("%w: %w", class, err)
	}
	// Connection refused, DNS, TLS, resets, truncated bodies: the endpoint
	// did not answer usefully.
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// statusClass maps a registry's error response to a class.
func statusClass(te *transport.Error) error {
	for _, d := range te.Errors {
		switch d.Code {
		case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode, transport.BlobUnknownErrorCode:
			return ErrNotFound
		case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
			return ErrUnauthenticated
		case transport.NameInvalidErrorCode, transport.TagInvalidErrorCode:
			return ErrInvalidReference
		}
	}
	switch te.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return ErrUnauthenticated
	case http.StatusNotFound:
		return ErrNotFound
	}
	return ErrUnavailable
}
