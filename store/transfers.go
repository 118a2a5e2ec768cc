package store

// TransferStore records chat transfers between departments and operators.
// Every Store implements it.
type TransferStore interface {
}
