// Package llmtest is a local server speaking the OpenAI chat-completions
// wire format, for tests that drive the real go-openai client against it.
package llmtest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Request is a chat-completions request as the server received it.
type Request struct {
	Authorization string
	Model         string `json:"model"`
	Messages      []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	ResponseFormat *struct {
		Type       string          `json:"type"`
		JSONSchema json.RawMessage `json:"json_schema"`
	} `json:"response_format"`
	Raw string
}

// Prompt is the text of every message, joined.
func (r Request) Prompt() string {
	var b strings.Builder
	for _, m := range r.Messages {
		b.WriteString(m.Content)
		b.WriteString("\n")
	}
	return b.String()
}

// Reply is what the server answers: Content as the assistant's message, or
// Status (≥ 400) with an OpenAI error object carrying Error.
type Reply struct {
	Content string
	Status  int
	Error   string
	Param   string
}

// Server is a fake OpenAI-compatible API on 127.0.0.1.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	requests []Request
	// Answer chooses the reply to each request; the default allows.
	Answer func(r Request) Reply
}

// New starts a server; it is closed when the test ends.
func New(t testing.TB) *Server {
	s := &Server{Answer: func(Request) Reply { return Reply{Content: `{"decision":"allow","reason":"fine"}`} }}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// URL is the base URL to give the client ("…/v1").
func (s *Server) BaseURL() string { return s.Server.URL + "/v1" }

// Requests returns what the server received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		http.NotFound(w, r)
		return
	}
	var req Request
	dec := json.NewDecoder(r.Body)
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil || json.Unmarshal(raw, &req) != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	req.Raw, req.Authorization = string(raw), r.Header.Get("Authorization")
	s.mu.Lock()
	s.requests = append(s.requests, req)
	answer := s.Answer
	s.mu.Unlock()
	reply := answer(req)
	w.Header().Set("Content-Type", "application/json")
	if reply.Status >= 400 {
		w.WriteHeader(reply.Status)
		e := map[string]any{"message": reply.Error, "type": "invalid_request_error"}
		if reply.Param != "" {
			e["param"] = reply.Param
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"error": e})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": "chatcmpl-test", "object": "chat.completion", "created": 1, "model": req.Model,
		"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": reply.Content}}},
		"usage": map[string]any{"prompt_tokens": 120, "completion_tokens": 12, "total_tokens": 132},
	})
}
