"""Real Node clients (the `openai` npm SDK and opencode) and the Python helpers that install them
and drive them against our HTTP face."""
