package gateway

import (
	"github.com/wardproject/ward/protocols/clickhouse"
	"github.com/wardproject/ward/protocols/httpproxy"
	"github.com/wardproject/ward/protocols/kubernetes"
	"github.com/wardproject/ward/protocols/postgres"
	"github.com/wardproject/ward/protocols/postgres/sqlfacts"
	"github.com/wardproject/ward/starlark/policytest"
)

// Protocols lists the wire protocols `ward test` and reloads know about.
func Protocols() []policytest.Protocol {
	return []policytest.Protocol{
		httpproxy.TestProtocol(),
		postgres.TestProtocol(sqlfacts.NewAnalyzer(1000, 16<<20)),
		kubernetes.TestProtocol(),
		clickhouse.TestProtocol(),
	}
}
