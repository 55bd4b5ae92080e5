"""Storage: the database engine, tables and migrations, one store per domain, stream ids, the replication
doorbell and shared counters. Stores are stateless; callers own the transaction."""
