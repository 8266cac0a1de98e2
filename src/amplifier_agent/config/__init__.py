"""Configuration: the state root and its paths, secret files, host_config, credentials."""
