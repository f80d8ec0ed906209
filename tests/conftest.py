"""Shared pytest configuration: the notebooks run under nbval with their own kernel."""
