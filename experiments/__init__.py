"""Experiments: the command line, YAML configs, runners, plots and tables."""
