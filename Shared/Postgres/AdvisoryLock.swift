extension PostgresConnection {
    /// Takes the transaction-level advisory lock named `name` within the current schema, without
    /// waiting: true when this transaction now holds it (until it ends), false when another does.
    ///
    /// The way to make replicas take turns at a job that first reads for a while and writes at the end:
    /// unlike `SELECT … FOR UPDATE` on a row, it gives the transaction no transaction id, so it does not
    /// hold back `pg_snapshot_xmin` — which every reader of a change feed ordered by transaction id
    /// waits for — until the transaction really writes. Must run inside a transaction.
    public func tryAdvisoryTransactionLock(_ name: String) throws(PostgresError) -> Bool {
        let rows = try query("SELECT pg_try_advisory_xact_lock(hashtextextended(current_schema() || '.' || $1, 0)) AS locked", name)
        return try rows.first?.decode("locked", as: Bool.self) ?? false
    }
}
