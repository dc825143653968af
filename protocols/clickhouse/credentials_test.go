package clickhouse

import "testing"

func TestRedactTarget(t *testing.T) {
	cases := []struct{ in, want string }{
		{"/", "/"},
		{"/?query=SELECT%201", "/?query=SELECT%201"},
		{"/?user=a&password=s3cret&query=x", "/?query=x"},
		{"/?PassWord=s3cret&query=%zz", "/?query=%zz"},
		{"/?pass%77ord=s3cret&x", "/?x"},
		{"/?password", "/?"},
	}
	for _, tc := range cases {
		if got := RedactTarget(tc.in); got != tc.want {
			t.Errorf("RedactTarget(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
