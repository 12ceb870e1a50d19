"""First-run setup for the Windows install: the torch build that fits this PC (stdlib only)."""
