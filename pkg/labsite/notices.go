package labsite

import (
	"context"
	"encoding/json"
	"time"
)

// Notice is one notice the lab recorded as shown to a user.
type Notice struct {
	Host   string    `json:"host"`
	User   string    `json:"user"`
	Method string    `json:"method"`
	Title  string    `json:"title"`
	Text   string    `json:"text"`
	At     time.Time `json:"at"`
}

// notify records a notice for the host's logged-on user; with nobody logged on, nothing
// is shown, as on a real client.
func (s *Site) notify(ctx context.Context, host string, params json.RawMessage) (any, error) {
	var p struct {
		Method string `json:"Method"`
		Title  string `json:"Title"`
		Text   string `json:"Text"`
	}
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, fail("bad-parameter", "parameters: %v", err)
	}
	sessions, err := s.Sim.LoggedOn(ctx, host)
	if err != nil {
		return nil, err
	}
	h, err := s.Sim.Host(ctx, host)
	if err != nil {
		return nil, err
	}
	if len(sessions) == 0 {
		return map[string]any{"delivered": false, "reason": "nobody-logged-on", "users": []string{}}, nil
	}
	users := []string{}
	s.mu.Lock()
	for _, x := range sessions {
		s.notices = append(s.notices, Notice{Host: h.Name, User: x.User, Method: p.Method, Title: p.Title, Text: p.Text, At: s.Sim.Now()})
		users = append(users, x.User)
	}
	s.mu.Unlock()
	return map[string]any{"delivered": true, "users": users}, nil
}

// Notices returns the notices recorded so far.
func (s *Site) Notices() []Notice {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Notice(nil), s.notices...)
}
