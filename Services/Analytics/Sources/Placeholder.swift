// Placeholder until the analytics service lands (this session); delete when adding real sources.
