package kubernetes

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"go.starlark.net/starlark"

	"github.com/wardproject/ward/protocols/httprelay"
	"github.com/wardproject/ward/starlark/policy"
)

// Request is the facts of a Kubernetes API request, computed with the API
// server's own request-info rules (k8s.io/apiserver RequestInfoFactory).
// Hooks (on_request) read:
//
//	verb               get, list, watch, create, update, patch, delete,
//	                   deletecollection (resource requests), or the
//	                   lowercase HTTP method of a non-resource request;
//	                   exec/attach/portforward read "create" (POST) or
//	                   "get" (GET, as WebSocket clients send them)
//	resource_request   True for /api and /apis resource URLs
//	api_group          "" for the core group, "apps", …
//	api_version        "v1", …
//	resource           "pods", "secrets", …
//	subresource        "exec", "log", "status", "" …
//	namespace          "" for cluster-scoped and all-namespace requests
//	name               the object's name, "" for collections
//	path               the request path (decoded)
//	query              dict: name -> list of values
//	label_selector     the labelSelector of list/watch/deletecollection
//	field_selector     the fieldSelector of list/watch/deletecollection
//	dry_run            True when dryRun=All
//	command            exec: the argv, in order (list of strings)
//	container          exec/attach/log: the container parameter
//	stdin, stdout, stderr, tty   exec/attach: booleans as the API server reads them
//	ports              portforward: the ports parameter (list of ints)
//	upgrade            "websocket", "spdy" or "" (the upgrade the request asks for)
//	impersonate_user   Impersonate-User, or None
//	impersonate_uid    Impersonate-Uid, or None
//	impersonate_groups list of Impersonate-Group values
//	impersonate_extra  dict: key -> list of Impersonate-Extra-<key> values
//	content_type       the Content-Type of the body
//	body_format        "json", "yaml", "protobuf", "cbor", "other", or "" without a body
//	body               the first body_limit bytes of the body
//	body_truncated     True when the body was longer than body_limit
//	json               the body as JSON (YAML bodies converted), or None
//	                   (protobuf, CBOR, truncated or absent)
type Request struct {
	Method          string
	ResourceRequest bool
	Verb            string
	APIGroup        string
	APIVersion      string
	Resource        string
	Subresource     string
	Namespace       string
	Name            string
	Path            string
	Target          string // path and query as sent
	Query           url.Values
	LabelSelector   string
	FieldSelector   string
	DryRun          bool

	Command   []string
	Container string
	Stdin     bool
	Stdout    bool
	Stderr    bool
	TTY       bool
	Ports     []int
	Upgrade   string

	ImpersonateUser   *string
	ImpersonateUID    *string
	ImpersonateGroups []string
	ImpersonateExtra  map[string][]string

	ContentType   string
	BodyFormat    string
	Body          []byte
	BodyTruncated bool

	json   starlark.Value
	header map[string][]string // the headers Decode read, for Raw
}

var requestAttrs = []string{
	"api_group", "api_version", "body", "body_format", "body_truncated", "command", "container",
	"content_type", "dry_run", "field_selector", "impersonate_extra", "impersonate_groups",
	"impersonate_uid", "impersonate_user", "json", "label_selector", "method", "name", "namespace",
	"path", "ports", "query", "resource", "resource_request", "stderr", "stdin", "stdout",
	"subresource", "tty", "upgrade", "verb",
}

// Attr returns one fact.
func (r *Request) Attr(name string) (starlark.Value, error) {
	switch name {
	case "method":
		return starlark.String(r.Method), nil
	case "verb":
		return starlark.String(r.Verb), nil
	case "resource_request":
		return starlark.Bool(r.ResourceRequest), nil
	case "api_group":
		return starlark.String(r.APIGroup), nil
	case "api_version":
		return starlark.String(r.APIVersion), nil
	case "resource":
		return starlark.String(r.Resource), nil
	case "subresource":
		return starlark.String(r.Subresource), nil
	case "namespace":
		return starlark.String(r.Namespace), nil
	case "name":
		return starlark.String(r.Name), nil
	case "path":
		return starlark.String(r.Path), nil
	case "query":
		return policy.StringListDict(r.Query), nil
	case "label_selector":
		return starlark.String(r.LabelSelector), nil
	case "field_selector":
		return starlark.String(r.FieldSelector), nil
	case "dry_run":
		return starlark.Bool(r.DryRun), nil
	case "command":
		return policy.StringTuple(r.Command), nil
	case "container":
		return starlark.String(r.Container), nil
	case "stdin":
		return starlark.Bool(r.Stdin), nil
	case "stdout":
		return starlark.Bool(r.Stdout), nil
	case "stderr":
		return starlark.Bool(r.Stderr), nil
	case "tty":
		return starlark.Bool(r.TTY), nil
	case "ports":
		t := make(starlark.Tuple, len(r.Ports))
		for i, p := range r.Ports {
			t[i] = starlark.MakeInt(p)
		}
		return t, nil
	case "upgrade":
		return starlark.String(r.Upgrade), nil
	case "impersonate_user":
		return optString(r.ImpersonateUser), nil
	case "impersonate_uid":
		return optString(r.ImpersonateUID), nil
	case "impersonate_groups":
		return policy.StringTuple(r.ImpersonateGroups), nil
	case "impersonate_extra":
		return policy.StringListDict(r.ImpersonateExtra), nil
	case "content_type":
		return starlark.String(r.ContentType), nil
	case "body_format":
		return starlark.String(r.BodyFormat), nil
	case "body":
		return starlark.String(r.Body), nil
	case "body_truncated":
		return starlark.Bool(r.BodyTruncated), nil
	case "json":
		if r.json == nil {
			return starlark.None, nil
		}
		return r.json, nil
	}
	return nil, nil
}

// AttrNames lists the facts.
func (r *Request) AttrNames() []string { return requestAttrs }

func optString(s *string) starlark.Value {
	if s == nil {
		return starlark.None
	}
	return starlark.String(*s)
}

// Summary is the verb and what it acts on:
// "delete pods prod/web-0", "create pods/exec prod/web-0 [sh -c id]",
// "get /version".
func (r *Request) Summary() string {
	if !r.ResourceRequest {
		return r.Verb + " " + r.Path
	}
	var b strings.Builder
	b.WriteString(r.Verb + " ")
	if r.APIGroup != "" {
		b.WriteString(r.Resource + "." + r.APIGroup)
	} else {
		b.WriteString(r.Resource)
	}
	if r.Subresource != "" {
		b.WriteString("/" + r.Subresource)
	}
	switch {
	case r.Namespace != "" && r.Name != "":
		b.WriteString(" " + r.Namespace + "/" + r.Name)
	case r.Namespace != "":
		b.WriteString(" -n " + r.Namespace)
	case r.Name != "":
		b.WriteString(" " + r.Name)
	}
	if len(r.Command) > 0 {
		fmt.Fprintf(&b, " %q", r.Command)
	}
	if r.LabelSelector != "" {
		b.WriteString(" -l " + r.LabelSelector)
	}
	return b.String()
}

// String renders the summary.
func (r *Request) String() string { return r.Summary() }

// Type is "k8s_request".
func (r *Request) Type() string { return "k8s_request" }

// Freeze is a no-op: facts are read-only.
func (r *Request) Freeze() {}

// Truth is always true.
func (r *Request) Truth() starlark.Bool { return true }

// Hash refuses: facts are not dict keys.
func (r *Request) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: k8s_request") }

// factsJSON is how a Request is stored in the audit log and golden files.
type factsJSON struct {
	Method            string              `json:"method"`
	Verb              string              `json:"verb"`
	ResourceRequest   bool                `json:"resource_request"`
	APIGroup          string              `json:"api_group,omitempty"`
	APIVersion        string              `json:"api_version,omitempty"`
	Resource          string              `json:"resource,omitempty"`
	Subresource       string              `json:"subresource,omitempty"`
	Namespace         string              `json:"namespace,omitempty"`
	Name              string              `json:"name,omitempty"`
	Path              string              `json:"path"`
	Query             map[string][]string `json:"query,omitempty"`
	LabelSelector     string              `json:"label_selector,omitempty"`
	FieldSelector     string              `json:"field_selector,omitempty"`
	DryRun            bool                `json:"dry_run,omitempty"`
	Command           []string            `json:"command,omitempty"`
	Container         string              `json:"container,omitempty"`
	Stdin             bool                `json:"stdin,omitempty"`
	Stdout            bool                `json:"stdout,omitempty"`
	Stderr            bool                `json:"stderr,omitempty"`
	TTY               bool                `json:"tty,omitempty"`
	Ports             []int               `json:"ports,omitempty"`
	Upgrade           string              `json:"upgrade,omitempty"`
	ImpersonateUser   *string             `json:"impersonate_user,omitempty"`
	ImpersonateUID    *string             `json:"impersonate_uid,omitempty"`
	ImpersonateGroups []string            `json:"impersonate_groups,omitempty"`
	ImpersonateExtra  map[string][]string `json:"impersonate_extra,omitempty"`
	ContentType       string              `json:"content_type,omitempty"`
	BodyFormat        string              `json:"body_format,omitempty"`
	Body              string              `json:"body,omitempty"`
	BodyBase64        string              `json:"body_base64,omitempty"`
	BodyTruncated     bool                `json:"body_truncated,omitempty"`
}

// MarshalJSON encodes the facts for the audit log.
func (r *Request) MarshalJSON() ([]byte, error) {
	f := factsJSON{Method: r.Method, Verb: r.Verb, ResourceRequest: r.ResourceRequest, APIGroup: r.APIGroup,
		APIVersion: r.APIVersion, Resource: r.Resource, Subresource: r.Subresource, Namespace: r.Namespace,
		Name: r.Name, Path: r.Path, Query: r.Query, LabelSelector: r.LabelSelector, FieldSelector: r.FieldSelector,
		DryRun: r.DryRun, Command: r.Command, Container: r.Container, Stdin: r.Stdin, Stdout: r.Stdout,
		Stderr: r.Stderr, TTY: r.TTY, Ports: r.Ports, Upgrade: r.Upgrade, ImpersonateUser: r.ImpersonateUser,
		ImpersonateUID: r.ImpersonateUID, ImpersonateGroups: r.ImpersonateGroups, ImpersonateExtra: r.ImpersonateExtra,
		ContentType: r.ContentType, BodyFormat: r.BodyFormat, BodyTruncated: r.BodyTruncated}
	f.Body, f.BodyBase64 = httprelay.EncodeBody(r.Body)
	return json.Marshal(f)
}

var _ starlark.HasAttrs = (*Request)(nil)
