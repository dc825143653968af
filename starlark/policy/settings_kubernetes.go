package policy

// KubernetesSettings holds what a kubernetes(...) declaration sets beyond the fields
// every endpoint shares.
type KubernetesSettings struct{}
