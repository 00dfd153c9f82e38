// The GLM module. See README.md (Architecture) for what it owns.
