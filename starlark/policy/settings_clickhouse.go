package policy

// ClickHouseSettings holds what a clickhouse(...) declaration sets beyond the fields
// every endpoint shares.
type ClickHouseSettings struct{}
