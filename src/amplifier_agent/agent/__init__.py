"""The turn loop: model calls, tools, sub-agents, routing, compaction."""
