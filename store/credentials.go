package store

// AdminKeys returns a page of an organization's admin keys in creation
// order and their total.
func (s *State) AdminKeys(orgID string, offset, limit int) ([]APIKey, int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return page(s.data.keysByOrg[orgID], offset, limit, func(id string) APIKey { return *s.data.apiKeys[id] })
}

// ApplyDeleteAdminKey applies a DeleteAdminKey command and returns the
// revoked key. A bucket key, or an admin key of another organization, is
// not found.
func (s *State) ApplyDeleteAdminKey(c DeleteAdminKey) (APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.data.orgs[c.OrgID]; !ok {
		return APIKey{}, errorf(ErrNotFound, "Organization not found")
	}
	k, ok := s.data.apiKeys[c.KeyID]
	if !ok || k.Type != KeyAdmin || k.OrganizationID != c.OrgID {
		return APIKey{}, errorf(ErrNotFound, "API key not found")
	}
	s.removeKey(k)
	return *k, nil
}

// ApplyRotateOperatorToken applies a RotateOperatorToken command. Under the
// write lock, so no operator call checked after it returns sees the old
// token.
func (s *State) ApplyRotateOperatorToken(c RotateOperatorToken) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.data.Initialized {
		return errorf(ErrInvalid, "Cluster not yet initialized")
	}
	if c.TokenHash == "" {
		return errorf(ErrInvalid, "Operator token hash missing")
	}
	s.data.OperatorTokenHash = c.TokenHash
	return nil
}
