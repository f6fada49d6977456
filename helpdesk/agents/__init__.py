"""Agents, teams, API tokens, login and the access rules between them."""
