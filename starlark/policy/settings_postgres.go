package policy

// PostgresSettings holds what a postgres(...) declaration sets beyond the fields
// every endpoint shares.
type PostgresSettings struct{}
