package sqlite

import "database/sql"

// Pools exposes the connection pools to the tests.
func (db *DB) Pools() (read, write *sql.DB) { return db.read, db.write }
