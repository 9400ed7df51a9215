"""Run modes: how the same actors are assembled against a simulator, a paper account or a live exchange."""
