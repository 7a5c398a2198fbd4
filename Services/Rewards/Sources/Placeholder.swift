// Placeholder until the rewards service lands (this session); delete when adding real sources.
