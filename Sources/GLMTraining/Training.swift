// The Training module. See README.md (Architecture) for what it owns.
