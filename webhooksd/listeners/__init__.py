"""Queue consumers (Kazoo's ``gen_listener`` processes): config, shared and retry listeners."""
