"""Who may do what, on every door: permissions, accounts and sessions, credentials, the gate every door asks, and TLS certificates."""
