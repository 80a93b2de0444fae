"""Passwords, tokens and the roles of the product."""
