package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The customer portal's tokens: a contact's session after signing in with a one-time code, and
// the token each portal form carries against cross-site posts and double submits. Both are
// signed with the same secret as staff tokens; their audiences keep them apart from staff tokens
// and approval links, and from each other.

// PortalSessionTTL is how long a contact stays signed in to the portal.
const PortalSessionTTL = 7 * 24 * time.Hour

// PortalFormTTL is how long a portal form may stay open before it must be loaded again.
const PortalFormTTL = 4 * time.Hour

const (
	portalSessionAudience = "portal:session"
	portalFormAudience    = "portal:form"
)

// IssuePortalSession signs the session of a contact signed in to the portal.
func (k *Keys) IssuePortalSession(contactID string, now time.Time) (string, error) {
	if contactID == "" {
		return "", errors.New("auth: a portal session needs a contact")
	}
	c := jwt.RegisteredClaims{
		Subject: contactID, Issuer: Issuer, Audience: jwt.ClaimStrings{portalSessionAudience},
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(PortalSessionTTL)),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(k.secret)
}

// VerifyPortalSession checks a portal session and returns the contact's id.
func (k *Keys) VerifyPortalSession(token string) (string, error) {
	var c jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return k.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(Issuer), jwt.WithAudience(portalSessionAudience), jwt.WithExpirationRequired(),
	)
	if err != nil {
		return "", fmt.Errorf("auth: portal session: %w", err)
	}
	if c.Subject == "" {
		return "", errors.New("auth: portal session without a contact")
	}
	return c.Subject, nil
}

// IssuePortalForm signs the token of one portal form, bound to the browser it is shown in
// (binding: a value only that browser sends, such as its anti-forgery cookie). The token holds a
// random nonce: posting the same form twice posts the same nonce.
func (k *Keys) IssuePortalForm(binding string, now time.Time) (string, error) {
	if binding == "" {
		return "", errors.New("auth: a portal form needs a binding")
	}
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	c := jwt.RegisteredClaims{
		Subject: bindingHash(binding), ID: hex.EncodeToString(nonce), Issuer: Issuer,
		Audience: jwt.ClaimStrings{portalFormAudience},
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(PortalFormTTL)),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(k.secret)
}

// VerifyPortalForm checks a form token against the binding of the browser posting it and
// returns the form's nonce.
func (k *Keys) VerifyPortalForm(token, binding string) (string, error) {
	var c jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return k.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(Issuer), jwt.WithAudience(portalFormAudience), jwt.WithExpirationRequired(),
	)
	if err != nil {
		return "", fmt.Errorf("auth: portal form: %w", err)
	}
	if binding == "" || c.Subject != bindingHash(binding) || c.ID == "" {
		return "", errors.New("auth: portal form: the form was not issued to this browser")
	}
	return c.ID, nil
}

func bindingHash(binding string) string {
	h := sha256.Sum256([]byte("portal-form\n" + binding))
	return hex.EncodeToString(h[:])
}
