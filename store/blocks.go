package store

// BlockStore keeps blocked visitor IPs (addresses or CIDRs, optionally per
// department). Every Store implements it.
type BlockStore interface {
}
