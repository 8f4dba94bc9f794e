"""LSP features as plain functions over the SkillIndex, returning lsprotocol types.

server.py is the thin pygls adapter that calls them; nothing here talks to the client.
"""
